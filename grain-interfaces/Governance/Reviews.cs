using System.Text.Json.Serialization;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Query;

namespace AnalyticsEngine.Governance;

public enum ConfidenceLevel
{
    Low = 0,
    Medium = 1,
    High = 2,
}

/// <summary>How far a KPI value can be trusted, from 0.1 to 1, and why, in words meant for the person reading it.</summary>
[GenerateSerializer, Immutable, Alias("ae.ValueConfidence")]
public sealed record ValueConfidence(
    [property: Id(0)] double Score,
    [property: Id(1)] ConfidenceLevel Level,
    [property: Id(2)] string Explanation);

/// <summary>What a reviewer decided about a KPI value.</summary>
public enum ReviewDecision
{
    Approved = 0,
    Rejected = 1,
}

/// <summary>Where a flagged value stands: waiting for a reviewer, or decided (for the value as it was decided on).</summary>
public enum ReviewStatus
{
    Pending = 0,
    Approved = 1,
    Rejected = 2,
}

/// <summary>
/// A reviewer's decision on one bucket of a client's KPI, with the value and event count it was made for: a decision
/// holds while the bucket keeps them, and a later event that changes the bucket puts it back to pending.
/// </summary>
[GenerateSerializer, Immutable, Alias("ae.ReviewRecord")]
public sealed record ReviewRecord(
    [property: Id(0)] string ClientId,
    [property: Id(1)] string KpiCode,
    [property: Id(2)] Granularity Granularity,
    [property: Id(3)] DateTimeOffset BucketStart,
    [property: Id(4)] ReviewDecision Decision,
    [property: Id(5)] string? Notes,
    [property: Id(6)] string Reviewer,
    [property: Id(7)] DateTimeOffset DecidedAt,
    [property: Id(8)] double? ReviewedValue,
    [property: Id(9)] long ReviewedEventCount);

/// <summary>
/// One value of the review list: flagged for its low confidence, or decided on. <see cref="Status"/> is pending when
/// no decision holds for the value as it is now (<see cref="Decision"/> then shows the one made for an earlier value).
/// </summary>
[GenerateSerializer, Immutable, Alias("ae.ReviewItem")]
public sealed record ReviewItem(
    [property: Id(0)] KpiValue Value,
    [property: Id(1)] ValueConfidence? Confidence,
    [property: Id(2)] bool Flagged,
    [property: Id(3)] ReviewStatus Status,
    [property: Id(4)] ReviewRecord? Decision);

/// <summary>
/// Which values to list for review: a client's selected KPIs (or one of its KPIs) in <c>[From, To)</c>, flagged below
/// <see cref="Threshold"/> (the scorer's review threshold when null).
/// </summary>
[GenerateSerializer, Immutable, Alias("ae.ReviewListRequest")]
public sealed record ReviewListRequest(
    [property: Id(0)] string ClientId,
    [property: Id(1)] DateTimeOffset From,
    [property: Id(2)] DateTimeOffset To,
    [property: Id(3)] Granularity Granularity,
    [property: Id(4)] string? KpiCode = null,
    [property: Id(5)] ReviewStatus? Status = null,
    [property: Id(6)] double? Threshold = null);

/// <summary>The review list, or why there is none (the query path's error, e.g. an unknown client or a range too long).</summary>
[GenerateSerializer, Immutable, Alias("ae.ReviewList")]
public sealed record ReviewList(
    [property: Id(0)] IReadOnlyList<ReviewItem> Items,
    [property: Id(1)] QueryError? Error,
    [property: Id(2)] double Threshold);

/// <summary>A decision on the bucket of a client's KPI that starts at <see cref="BucketStart"/>.</summary>
/// <param name="EventCount">
/// The event count of the value the reviewer read: when given, the decision is refused if the bucket has changed since.
/// </param>
/// <param name="Value">The value the reviewer read: when given, the decision is refused if the bucket's value is another now.</param>
[GenerateSerializer, Immutable, Alias("ae.ReviewDecisionRequest")]
public sealed record ReviewDecisionRequest(
    [property: Id(0), JsonRequired] string KpiCode,
    [property: Id(1), JsonRequired] Granularity Granularity,
    [property: Id(2), JsonRequired] DateTimeOffset BucketStart,
    [property: Id(3), JsonRequired] ReviewDecision Decision,
    [property: Id(4)] string? Notes = null,
    [property: Id(5)] long? EventCount = null,
    [property: Id(6)] double? Value = null);

/// <summary>
/// The decision as stored, or why it was refused: "field: message" lines, the query path's error, or
/// <see cref="Changed"/>, the value as it is now when it is not the one the reviewer read.
/// </summary>
[GenerateSerializer, Immutable, Alias("ae.ReviewDecisionOutcome")]
public sealed record ReviewDecisionOutcome(
    [property: Id(0)] ReviewItem? Item,
    [property: Id(1)] IReadOnlyList<string> Problems,
    [property: Id(2)] QueryError? Error,
    [property: Id(3)] KpiValue? Changed = null);

/// <summary>
/// Confidence scores of a client's KPI values and their review: values below the confidence threshold are flagged,
/// and a reviewer approves or rejects them with notes (stateless; decisions live in PostgreSQL).
/// </summary>
[Alias("ae.IReviewGrain")]
public interface IReviewGrain : IGrainWithIntegerKey
{
    [Alias("List")]
    Task<ReviewList> List(ReviewListRequest request);

    [Alias("Decide")]
    Task<ReviewDecisionOutcome> Decide(string clientId, ReviewDecisionRequest request, string reviewer);
}
