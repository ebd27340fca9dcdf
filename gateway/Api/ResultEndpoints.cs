using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.OpenApi;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>
/// What an endpoint that answers results declares, in one place for all of them: the filter that refuses a format it
/// does not answer, and what the OpenAPI document says of it (its success response and media types, the
/// <c>format</c> parameter the filter reads itself, the 400 and 406 it refuses with). A handler that returns
/// <see cref="IResult"/> tells the document nothing of its answers otherwise.
/// </summary>
internal static class ResultEndpoints
{
    /// <summary>JSON, or CSV with <c>?format=csv</c> or <c>Accept: text/csv</c> (<see cref="KpiResults.RefuseUnknownFormat"/>).</summary>
    public static RouteHandlerBuilder AnswersJsonOrCsv<T>(this RouteHandlerBuilder builder, int status = StatusCodes.Status200OK) =>
        builder.AddEndpointFilter(KpiResults.RefuseUnknownFormat).Answers<T>(status, csv: true);

    /// <summary>JSON only; a <c>format</c> other than <c>json</c> is refused (<see cref="KpiResults.RefuseFormatOtherThanJson"/>).</summary>
    public static RouteHandlerBuilder AnswersJsonOnly<T>(this RouteHandlerBuilder builder, int status = StatusCodes.Status200OK) =>
        builder.AddEndpointFilter(KpiResults.RefuseFormatOtherThanJson).Answers<T>(status, csv: false);

    /// <summary>The problems a KPI query answers besides a bad request: its client or KPI unknown, its formula failing over the stored rows, the engine failing or taking too long.</summary>
    public static RouteHandlerBuilder AnswersQueryProblems(this RouteHandlerBuilder builder) =>
        builder.ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status500InternalServerError)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);

    /// <summary>Marks query parameters the handler takes as optional (to refuse their absence in its own words) as required in the document.</summary>
    public static RouteHandlerBuilder RequiresQueryParameters(this RouteHandlerBuilder builder, params string[] names) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            foreach (var parameter in (operation.Parameters ?? []).OfType<OpenApiParameter>().Where(p => p.In == ParameterLocation.Query && names.Contains(p.Name)))
            {
                parameter.Required = true;
            }

            return Task.CompletedTask;
        });

    private static RouteHandlerBuilder Answers<T>(this RouteHandlerBuilder builder, int status, bool csv) =>
        builder.Produces<T>(status)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status406NotAcceptable)
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                string[] formats = csv ? ["json", "csv"] : ["json"];
                operation.Parameters ??= [];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = "format",
                    In = ParameterLocation.Query,
                    Required = false,
                    Description = csv
                        ? "json or csv; decides over the Accept header (text/csv answers CSV too). Default: JSON."
                        : "json only (the default); any other is refused with 400.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [.. formats.Select(f => (JsonNode)JsonValue.Create(f))] },
                });
                if (csv && operation.Responses?.TryGetValue(status.ToString(CultureInfo.InvariantCulture), out var declared) == true
                    && declared is OpenApiResponse response)
                {
                    // One line per value (docs/queries.md, CSV), not the JSON's shape.
                    response.Content ??= new Dictionary<string, OpenApiMediaType>();
                    response.Content["text/csv"] = new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
                }

                return Task.CompletedTask;
            });
}
