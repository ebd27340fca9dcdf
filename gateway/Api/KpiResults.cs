using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Query;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>
/// How every query result leaves the gateway: JSON, or CSV when the caller asks (<c>?format=csv</c> or
/// <c>Accept: text/csv</c>), and the status each query error maps to. Used by one-time queries, history and batch runs.
/// </summary>
public static class KpiResults
{
    /// <summary>The header line of every KPI result in CSV.</summary>
    public const string CsvHeader =
        "client_id,kpi_code,granularity,dimension,bucket_start,bucket_end,value,no_value_reason,event_count,newest_event_time,is_final,as_of,components,error";

    private static readonly ResultFormat[] JsonOrCsv = [ResultFormat.Json, ResultFormat.Csv];
    private static readonly ResultFormat[] JsonOnly = [ResultFormat.Json];

    /// <summary>Whether to answer CSV (<see cref="ResultFormats.Negotiate"/>).</summary>
    public static bool WantsCsv(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        return ResultFormats.Negotiate(http.Request, JsonOrCsv) == ResultFormat.Csv;
    }

    /// <summary>
    /// Endpoint filters that refuse, before the endpoint runs, a <c>format</c> it does not answer (400) and an
    /// <c>Accept</c> header that takes none of the formats it does (406) (<see cref="ResultFormats.RefuseOtherThan"/>).
    /// </summary>
    public static ValueTask<object?> RefuseUnknownFormat(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        ResultFormats.RefuseOtherThan(context, next, JsonOrCsv);

    /// <inheritdoc cref="RefuseUnknownFormat"/>
    public static ValueTask<object?> RefuseFormatOtherThanJson(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        ResultFormats.RefuseOtherThan(context, next, JsonOnly);

    /// <summary>The results as JSON, or as CSV when the caller asks for it.</summary>
    public static IResult Answer<T>(HttpContext http, T json, IReadOnlyList<KpiQueryResult> results) =>
        WantsCsv(http) ? Csv(results) : TypedResults.Ok(json);

    public static IResult Csv(IReadOnlyList<KpiQueryResult> results) =>
        TypedResults.Text(ToCsv(results), "text/csv; charset=utf-8", Encoding.UTF8);

    /// <summary>
    /// One line per value — per (KPI, bucket, dimension value) — with the value (or why there is none), the event
    /// count, freshness, <c>as_of</c> as <c>object_model:sequence</c> pairs separated by spaces, and the components as
    /// a JSON object (names are formula text and may hold any character). A failed item of a batch is one line with
    /// only its error.
    /// </summary>
    public static string ToCsv(IReadOnlyList<KpiQueryResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var csv = new StringBuilder();
        csv.Append(CsvHeader).Append("\r\n");
        foreach (var result in results)
        {
            var granularity = result.Granularity.ToString().ToLowerInvariant();
            if (result.Error is { } error)
            {
                // The kind as JSON answers name it (unknownKpi).
                var kind = JsonNamingPolicy.CamelCase.ConvertName(error.Kind.ToString());
                CsvText.Line(csv, [result.ClientId, result.KpiCode, granularity, null, null, null, null, null, null, null, null, null, null, $"{kind}: {error.Message}"]);
                continue;
            }

            foreach (var series in result.Series)
            {
                foreach (var value in series.Values)
                {
                    CsvText.Line(csv,
                    [
                        result.ClientId, result.KpiCode, granularity, series.DimensionValue,
                        Instant(value.BucketStart), Instant(value.BucketEnd),
                        Number(value.Value), value.NoValueReason,
                        value.EventCount.ToString(CultureInfo.InvariantCulture),
                        value.NewestEventTime is { } newest ? Instant(newest) : null,
                        value.IsFinal ? "true" : "false",
                        // A formula of constants reads no source: no positions, an empty field (not the empty text "").
                        value.AsOf.Count == 0 ? null : string.Join(' ', value.AsOf.Select(p => $"{p.ObjectModel}:{p.Sequence.ToString(CultureInfo.InvariantCulture)}")),
                        Components(value.Components),
                        null,
                    ]);
                }
            }
        }

        return csv.ToString();
    }

    /// <summary>The ProblemDetails of a query error, by its kind.</summary>
    public static ProblemHttpResult Problem(QueryError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return error.Kind switch
        {
            QueryErrorKind.UnknownClient or QueryErrorKind.UnknownKpi => Problems.NotFound(error.Message),
            QueryErrorKind.Timeout => TypedResults.Problem(error.Message, statusCode: StatusCodes.Status504GatewayTimeout, title: "Query timeout"),
            // The gateway has refused an inverted range and one outside the calendar, naming their fields; what the
            // query path refuses then is a range longer than it allows (Query:MaxRange), which a nearer 'to' shortens.
            QueryErrorKind.InvalidRange => Problems.BadRequest("Invalid range", error.Message, Problems.ErrorAt("to", error.Message)),
            QueryErrorKind.UnsupportedGranularity => Problems.BadRequest("Unsupported granularity", error.Message),
            QueryErrorKind.TooManyPoints => Problems.BadRequest("Too many points", error.Message, Problems.ErrorAt("granularity", error.Message)),
            QueryErrorKind.InvalidDimension => Problems.BadRequest("Invalid dimension", error.Message, Problems.ErrorAt("dimension", error.Message)),
            QueryErrorKind.TooManyQueries => Problems.BadRequest("Too many queries", error.Message),
            QueryErrorKind.Failed => TypedResults.Problem(error.Message, statusCode: StatusCodes.Status500InternalServerError, title: "Query failed"),
            QueryErrorKind.FormulaFailed => TypedResults.Problem(error.Message, statusCode: StatusCodes.Status422UnprocessableEntity, title: "Formula failed over the stored rows"),
            _ => Problems.BadRequest("Invalid KPI", error.Message),
        };
    }

    /// <summary>As JSON answers write it: ISO 8601 with the offset, and fractional seconds only when there are some.</summary>
    private static string Instant(DateTimeOffset value) => value.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz", CultureInfo.InvariantCulture);

    private static string? Number(double? value) => value?.ToString("R", CultureInfo.InvariantCulture);

    private static string Components(IReadOnlyList<KpiComponent> components)
    {
        using var buffer = new MemoryStream();
        // Component names are formula text ('UPS' in a filter): written as they are, as JSON answers and pushes have them,
        // not escaped for HTML, which a CSV cell never is.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            foreach (var component in components)
            {
                if (component.Value is { } number && double.IsFinite(number))
                {
                    json.WriteNumber(component.Name, number);
                }
                else
                {
                    json.WriteNull(component.Name);
                }
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}

/// <summary>RFC 4180 fields, safe to open in a spreadsheet.</summary>
public static class CsvText
{
    /// <summary>
    /// A field as written: quoted (inner quotes doubled) when it holds a comma, quote, CR or LF, or starts or ends with
    /// a space; a text that starts with <c>=</c>, <c>+</c>, <c>-</c>, <c>@</c>, tab or CR gets a leading <c>'</c> first,
    /// so a spreadsheet shows it instead of evaluating it (OWASP "CSV injection"). Numbers are written by the caller
    /// through <see cref="Line"/>'s numeric positions and are never prefixed. No value (null) is an empty field and the
    /// empty text a quoted one, <c>""</c>, as JSON tells <c>null</c> from <c>""</c> (a dimension value may be either).
    /// </summary>
    public static string Field(string? value, bool isText = true)
    {
        if (value is null)
        {
            return "";
        }

        if (value.Length == 0)
        {
            return "\"\"";
        }

        if (isText && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r')
        {
            value = "'" + value;
        }

        var needsQuotes = value.AsSpan().IndexOfAny(",\"\r\n") >= 0 || value[0] == ' ' || value[^1] == ' ';
        return needsQuotes ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }

    /// <summary>Appends one CRLF-terminated line; fields that are numbers or instants (parsed as such) are not treated as text.</summary>
    public static void Line(StringBuilder csv, IReadOnlyList<string?> fields)
    {
        ArgumentNullException.ThrowIfNull(csv);
        ArgumentNullException.ThrowIfNull(fields);
        for (var i = 0; i < fields.Count; i++)
        {
            if (i > 0)
            {
                csv.Append(',');
            }

            var field = fields[i];
            csv.Append(Field(field, isText: !IsNumber(field)));
        }

        csv.Append("\r\n");
    }

    // Finite only: "-Infinity" parses as a double, yet a spreadsheet reads the leading '-' as a formula.
    private static bool IsNumber(string? field) =>
        field is { Length: > 0 } && double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number);
}
