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
    private static readonly ResultFormat[] JsonOrCsv = [ResultFormat.Json, ResultFormat.Csv];
    private static readonly ResultFormat[] JsonOrMarkdown = [ResultFormat.Json, ResultFormat.Markdown];
    private static readonly ResultFormat[] JsonOnly = [ResultFormat.Json];

    /// <summary>JSON, or CSV with <c>?format=csv</c> or <c>Accept: text/csv</c> (<see cref="KpiResults.RefuseUnknownFormat"/>).</summary>
    public static RouteHandlerBuilder AnswersJsonOrCsv<T>(this RouteHandlerBuilder builder, int status = StatusCodes.Status200OK) =>
        builder.AddEndpointFilter(KpiResults.RefuseUnknownFormat).Answers<T>(status, JsonOrCsv);

    /// <summary>
    /// JSON, or a Markdown document with <c>?format=markdown</c> or <c>Accept: text/markdown</c>
    /// (<see cref="ResultFormats.RefuseOtherThan"/>).
    /// </summary>
    public static RouteHandlerBuilder AnswersJsonOrMarkdown<T>(this RouteHandlerBuilder builder, int status = StatusCodes.Status200OK) =>
        builder.AddEndpointFilter((context, next) => ResultFormats.RefuseOtherThan(context, next, JsonOrMarkdown)).Answers<T>(status, JsonOrMarkdown);

    /// <summary>JSON only; a <c>format</c> other than <c>json</c> is refused (<see cref="KpiResults.RefuseFormatOtherThanJson"/>).</summary>
    public static RouteHandlerBuilder AnswersJsonOnly<T>(this RouteHandlerBuilder builder, int status = StatusCodes.Status200OK) =>
        builder.AddEndpointFilter(KpiResults.RefuseFormatOtherThanJson).Answers<T>(status, JsonOnly);

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

    private static RouteHandlerBuilder Answers<T>(this RouteHandlerBuilder builder, int status, ResultFormat[] formats) =>
        builder.Produces<T>(status)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status406NotAcceptable)
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                var others = formats.Skip(1).ToList();
                operation.Parameters ??= [];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = "format",
                    In = ParameterLocation.Query,
                    Required = false,
                    Description = others.Count == 0
                        ? "json only (the default); any other is refused with 400."
                        : $"{string.Join(" or ", formats.Select(ResultFormats.Name))}; decides over the Accept header "
                            + $"({string.Join(", ", others.Select(f => $"{ResultFormats.MediaType(f)} answers {ResultFormats.DisplayName(f)}"))} too). Default: JSON.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [.. formats.Select(f => (JsonNode)JsonValue.Create(ResultFormats.Name(f)))] },
                });
                if (others.Count > 0 && operation.Responses?.TryGetValue(status.ToString(CultureInfo.InvariantCulture), out var declared) == true
                    && declared is OpenApiResponse response)
                {
                    // CSV is one line per value (docs/queries.md, CSV), Markdown a document: text, not the JSON's shape.
                    response.Content ??= new Dictionary<string, OpenApiMediaType>();
                    foreach (var other in others)
                    {
                        response.Content[ResultFormats.MediaType(other)] = new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
                    }
                }

                return Task.CompletedTask;
            });
}
