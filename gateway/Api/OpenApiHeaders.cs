using Microsoft.OpenApi;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>Request headers an endpoint reads itself: model binding does not see them, so the OpenAPI document is told.</summary>
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
}
