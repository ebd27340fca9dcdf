using AnalyticsEngine.Kpi;

namespace AnalyticsEngine.Query;

/// <summary>
/// The bucket width of a one-time query, in the client's time zone. Minute, hour and day buckets are exactly the
/// stream's; weeks start on Monday 00:00 (ISO), months on the 1st; <see cref="Range"/> is one bucket for the whole
/// requested range.
/// </summary>
public enum QueryGranularity
{
    Minute = 0,
    Hour = 1,
    Day = 2,
    Week = 3,
    Month = 4,
    Range = 5,
}

/// <summary>
/// One KPI of one client over a time range. Buckets cover <c>[From, To)</c> in whole buckets: the first bucket is the
/// one holding <see cref="From"/>, the last the one holding the instant just before <see cref="To"/>
/// (except <see cref="QueryGranularity.Range"/>, which is exactly <c>[From, To)</c>).
/// </summary>
/// <param name="Dimension">Optional field to drill down by (text, boolean or integer): one series per value.</param>
[GenerateSerializer, Immutable, Alias("ae.KpiQuery")]
public sealed record KpiQuery(
    [property: Id(0)] string ClientId,
    [property: Id(1)] string KpiCode,
    [property: Id(2)] DateTimeOffset From,
    [property: Id(3)] DateTimeOffset To,
    [property: Id(4)] QueryGranularity Granularity,
    [property: Id(5)] string? Dimension = null);

/// <summary>Why a query has no result; the gateway maps each to an HTTP status.</summary>
public enum QueryErrorKind
{
    /// <summary>The client does not exist (404).</summary>
    UnknownClient = 0,

    /// <summary>Neither the client's custom KPIs nor the catalog define the KPI (404).</summary>
    UnknownKpi = 1,

    /// <summary>The range is empty, inverted or longer than allowed (400).</summary>
    InvalidRange = 2,

    /// <summary>The granularity is not supported (400).</summary>
    UnsupportedGranularity = 3,

    /// <summary>The answer would have more points than allowed (400).</summary>
    TooManyPoints = 4,

    /// <summary>The dimension is not a groupable field of every object model the KPI reads (400).</summary>
    InvalidDimension = 5,

    /// <summary>The KPI's formula does not compile (400).</summary>
    InvalidFormula = 6,

    /// <summary>The database did not answer within the statement timeout (504).</summary>
    Timeout = 7,

    /// <summary>The batch has too many queries (400).</summary>
    TooManyQueries = 8,

    /// <summary>The KPI's formula cannot be computed over the stored rows, e.g. a value out of range (422).</summary>
    FormulaFailed = 9,

    /// <summary>The query failed for a reason of the engine's or the database's, not the caller's (500); in a batch, that query alone.</summary>
    Failed = 10,
}

/// <summary>Why a query failed, in words meant for the caller.</summary>
[GenerateSerializer, Immutable, Alias("ae.QueryError")]
public sealed record QueryError(
    [property: Id(0)] QueryErrorKind Kind,
    [property: Id(1)] string Message);

/// <summary>The values of one KPI for one dimension value (or for all rows when the query has no dimension).</summary>
/// <param name="DimensionValue">The dimension's value as text (null for rows where it is null, or no dimension).</param>
[GenerateSerializer, Immutable, Alias("ae.KpiSeries")]
public sealed record KpiSeries(
    [property: Id(0)] string? DimensionValue,
    [property: Id(1)] IReadOnlyList<KpiValue> Values);

/// <summary>
/// The answer to a <see cref="KpiQuery"/>: every bucket of the range, oldest first, in the same <see cref="KpiValue"/>
/// shape the stream publishes (revision 0; <c>AsOf</c> is the highest committed sequence per object model the
/// query saw). Exactly one of <see cref="Series"/> (non-empty) and <see cref="Error"/> is set.
/// </summary>
[GenerateSerializer, Immutable, Alias("ae.KpiQueryResult")]
public sealed record KpiQueryResult(
    [property: Id(0)] string ClientId,
    [property: Id(1)] string KpiCode,
    [property: Id(2)] QueryGranularity Granularity,
    [property: Id(3)] DateTimeOffset From,
    [property: Id(4)] DateTimeOffset To,
    [property: Id(5)] string? Dimension,
    [property: Id(6)] IReadOnlyList<KpiSeries> Series,
    [property: Id(7)] QueryError? Error)
{
    public static KpiQueryResult Failed(KpiQuery query, QueryErrorKind kind, string message) =>
        new(query.ClientId, query.KpiCode, query.Granularity, query.From, query.To, query.Dimension, [], new QueryError(kind, message));
}

/// <summary>
/// The instants an event time may name, and so a query's range may reach (ingest refuses others: <c>RowBuilder</c>),
/// so that no stored event is outside it and a year's bucket still ends within the calendar. The gateway refuses a
/// range beyond them naming the field at fault; the query path refuses it for every caller.
/// </summary>
public static class QueryRange
{
    public static readonly DateTimeOffset Earliest = DateTimeOffset.UnixEpoch;

    public static readonly DateTimeOffset End = new(9999, 1, 1, 0, 0, 0, TimeSpan.Zero);
}
