using System.Globalization;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.OpenApi;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>
/// Headers the OpenAPI document cannot see: request headers an endpoint reads itself (model binding does not see them)
/// and response headers it sets itself.
/// </summary>
internal static class OpenApiHeaders
{
    public static RouteHandlerBuilder AcceptsOptionalHeader(this RouteHandlerBuilder builder, string name, string description, int? maxLength = null) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = name,
                In = ParameterLocation.Header,
                Required = false,
                Description = description,
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = maxLength },
            });
            return Task.CompletedTask;
        });

    public static RouteHandlerBuilder RespondsWithHeader(this RouteHandlerBuilder builder, int status, string name, string description) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.Responses ??= [];
            var code = status.ToString(CultureInfo.InvariantCulture);
            if (!operation.Responses.TryGetValue(code, out var declared))
            {
                operation.Responses[code] = declared = new OpenApiResponse { Description = ReasonPhrases.GetReasonPhrase(status) };
            }

            if (declared is OpenApiResponse response)
            {
                response.Headers ??= new Dictionary<string, IOpenApiHeader>();
                response.Headers[name] = new OpenApiHeader { Description = description, Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
            }

            return Task.CompletedTask;
        });
}
