using System.Diagnostics;
using Microsoft.Net.Http.Headers;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>The formats a result can leave the gateway in.</summary>
public enum ResultFormat
{
    Json,
    Csv,
    Markdown,
}

/// <summary>
/// Which format answers a request: <c>format</c> when given (the explicit ask), else the <c>Accept</c> header, read as
/// HTTP defines it (RFC 9110, 12.5.1): each offered type takes the quality of the most specific range that matches it
/// (<c>text/csv</c> over <c>text/*</c> over <c>*/*</c>), the highest quality wins, a tie goes to the range listed first,
/// and <c>q=0</c> refuses. No header is JSON; one that accepts none of the offered types is answered 406.
/// </summary>
public static class ResultFormats
{
    /// <summary>The media type each format is written as.</summary>
    public static string MediaType(ResultFormat format) => format switch
    {
        ResultFormat.Csv => "text/csv",
        ResultFormat.Markdown => "text/markdown",
        _ => "application/json",
    };

    /// <summary>The format's name in <c>?format=</c>.</summary>
    public static string Name(ResultFormat format) => format switch
    {
        ResultFormat.Csv => "csv",
        ResultFormat.Markdown => "markdown",
        _ => "json",
    };

    /// <summary>The format's name in prose (errors, the OpenAPI document).</summary>
    public static string DisplayName(ResultFormat format) => format switch
    {
        ResultFormat.Csv => "CSV",
        ResultFormat.Markdown => "Markdown",
        _ => "JSON",
    };

    /// <summary>
    /// The format to answer in among <paramref name="offered"/> (the first is the default), or null when the caller
    /// accepts none of them (406). A <c>format</c> the endpoint does not offer is refused before this (400).
    /// </summary>
    public static ResultFormat? Negotiate(HttpRequest request, IReadOnlyList<ResultFormat> offered)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(offered);
        var format = request.Query["format"];
        if (format.Count > 0)
        {
            return offered.FirstOrDefault(f => string.Equals(format, Name(f), StringComparison.OrdinalIgnoreCase), offered[0]);
        }

        if (!MediaTypeHeaderValue.TryParseList(request.Headers.Accept, out var ranges) || ranges.Count == 0)
        {
            // No header, or one that does not parse: HTTP lets a server answer as if none was sent.
            return offered[0];
        }

        ResultFormat? best = null;
        (double Quality, int Position) bestRank = (0, int.MaxValue);
        foreach (var candidate in offered)
        {
            if (Rank(ranges, MediaType(candidate)) is { Quality: > 0 } rank
                && (rank.Quality > bestRank.Quality || (rank.Quality == bestRank.Quality && rank.Position < bestRank.Position)))
            {
                (best, bestRank) = (candidate, rank);
            }
        }

        return best;
    }

    /// <summary>
    /// An endpoint filter's check, before the endpoint runs: a <c>format</c> it does not answer is refused (400 naming
    /// <c>format</c>), and an <c>Accept</c> header that takes none of <paramref name="offered"/> (406); the answer would
    /// otherwise come in JSON, as if the caller had not asked.
    /// </summary>
    public static ValueTask<object?> RefuseOtherThan(EndpointFilterInvocationContext context, EndpointFilterDelegate next, IReadOnlyList<ResultFormat> offered)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        ArgumentNullException.ThrowIfNull(offered);
        var request = context.HttpContext.Request;
        var names = offered.Select(Name).ToArray();
        var askWith = string.Join(" or ", names.Select(f => $"format={f}"));
        var format = request.Query["format"];
        if (format.Count > 1 || (format.Count == 1 && !names.Contains(format[0], StringComparer.OrdinalIgnoreCase)))
        {
            var answers = offered.Count == 1 ? $"{DisplayName(offered[0])} only" : string.Join(" or ", offered.Select(DisplayName));
            return ValueTask.FromResult<object?>(Problems.BadRequest("Unsupported format",
                $"format '{format}' is not available here; {request.Path} answers {answers} ({askWith}, or leave it out for JSON).",
                Problems.ErrorAt("format", $"is not one of the formats this endpoint answers: {string.Join(", ", names)}")));
        }

        if (Negotiate(request, offered) is null)
        {
            // The problem service writes only for a caller that accepts JSON, which this one does not: the body is then
            // written as is, so it carries its trace id itself, as every other problem does.
            return ValueTask.FromResult<object?>(TypedResults.Problem(
                $"The Accept header ('{request.Headers.Accept}') takes none of what {request.Path} answers: "
                + $"{string.Join(" or ", offered.Select(MediaType))}. Accept one of them, or ask with {askWith}.",
                statusCode: StatusCodes.Status406NotAcceptable, title: "Not acceptable",
                extensions: new Dictionary<string, object?> { ["traceId"] = Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier }));
        }

        return next(context);
    }

    /// <summary>The quality the most specific matching range gives <paramref name="mediaType"/>, and where that range stands; none if none matches.</summary>
    private static (double Quality, int Position)? Rank(IList<MediaTypeHeaderValue> ranges, string mediaType)
    {
        var (type, subType) = (mediaType[..mediaType.IndexOf('/', StringComparison.Ordinal)], mediaType[(mediaType.IndexOf('/', StringComparison.Ordinal) + 1)..]);
        (double Quality, int Position)? rank = null;
        var specificity = -1;
        for (var i = 0; i < ranges.Count; i++)
        {
            var range = ranges[i];
            // Parameters other than q (charset=utf-8, say) neither stop a match nor make a range more specific here.
            var level = range.MatchesAllTypes ? 0
                : !range.Type.Equals(type, StringComparison.OrdinalIgnoreCase) ? -1
                : range.MatchesAllSubTypes ? 1
                : range.SubType.Equals(subType, StringComparison.OrdinalIgnoreCase) ? 2
                : -1;
            if (level > specificity)
            {
                (specificity, rank) = (level, (range.Quality ?? 1.0, i));
            }
        }

        return rank;
    }
}
