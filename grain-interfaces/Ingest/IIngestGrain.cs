using Orleans.Concurrency;

namespace AnalyticsEngine.Ingest;

public enum IngestFormat
{
    Json = 0,
    Csv = 1,
}

/// <summary>What to do with a batch that has some invalid rows.</summary>
public enum IngestPolicy
{
    /// <summary>Store nothing when any row is invalid.</summary>
    RejectBatch = 0,

    /// <summary>Store the valid rows and report the rejected ones.</summary>
    KeepValid = 1,
}

[GenerateSerializer, Immutable, Alias("ae.IngestRequest")]
public sealed record IngestRequest(
    [property: Id(0)] IngestFormat Format,
    [property: Id(1)] byte[] Body,
    [property: Id(2)] IngestPolicy Policy,
    [property: Id(3)] string? IdempotencyKey);

/// <summary>One reason a row was refused; <see cref="Row"/> is 1-based (the CSV header is row 0).</summary>
[GenerateSerializer, Immutable, Alias("ae.RowError")]
public sealed record RowError(
    [property: Id(0)] int Row,
    [property: Id(1)] string? Field,
    [property: Id(2)] string Reason);

/// <summary>What became of an ingest request as a whole.</summary>
public enum IngestStatus
{
    /// <summary>Valid rows were committed (rejected rows, if any, are listed).</summary>
    Committed = 0,

    /// <summary>The same idempotency key was committed before; nothing new was stored.</summary>
    Replayed = 1,

    /// <summary>Nothing was stored: the body or its rows are invalid.</summary>
    Refused = 2,

    /// <summary>Nothing was stored: the request exceeds a size limit.</summary>
    TooLarge = 3,

    /// <summary>Nothing was stored: the client does not exist.</summary>
    UnknownClient = 4,

    /// <summary>Nothing was stored: no such object model.</summary>
    UnknownObjectModel = 5,

    /// <summary>Nothing was stored: the database could not be reached; retry (with the same idempotency key).</summary>
    Unavailable = 6,

    /// <summary>
    /// Nothing was stored: the idempotency key was used before for a request with other rows (a retry carries the
    /// same rows); <see cref="IngestResult.CommittedAt"/> says when that request was committed. Send it with a new key.
    /// </summary>
    IdempotencyKeyReused = 7,
}

/// <summary>The outcome of one ingest call. Rows were stored only when <see cref="Status"/> is Committed.</summary>
[GenerateSerializer, Immutable, Alias("ae.IngestResult")]
public sealed record IngestResult(
    [property: Id(0)] IngestStatus Status,
    [property: Id(1)] int Received,
    [property: Id(2)] int Accepted,
    [property: Id(3)] long FromSequence,
    [property: Id(4)] long ToSequence,
    [property: Id(5)] IReadOnlyList<RowError> Errors,
    [property: Id(6)] DateTimeOffset CommittedAt)
{
    public static IngestResult Failed(IngestStatus status, string reason, int received = 0) =>
        new(status, received, 0, 0, 0, [new RowError(0, null, reason)], default);
}

/// <summary>
/// The single writer of one (client, object model) partition (grain key: <c>{clientId}/{objectModel}</c>).
/// It validates rows, commits them to PostgreSQL with contiguous sequence numbers, and publishes the
/// committed batch on the client's event stream.
/// </summary>
[Alias("ae.IIngestGrain")]
public interface IIngestGrain : IGrainWithStringKey
{
    Task<IngestResult> Ingest(IngestRequest request);

    /// <summary>
    /// Asks the partition to check (at most every few minutes) whether its query rollups hold every rolled-up row for
    /// every term and dimension this release reads from them, and to backfill them in the background if not. Sent by
    /// queries that found them incomplete.
    /// </summary>
    [OneWay]
    Task CheckRollups();
}

public static class IngestKeys
{
    public static string For(string clientId, string objectModel) => $"{clientId}/{objectModel}";
}

public static class EventStreams
{
    /// <summary>The stream provider that carries committed events.</summary>
    public const string Provider = "events";

    /// <summary>Stream namespace; the stream key is the client id.</summary>
    public const string Namespace = "client-events";
}
