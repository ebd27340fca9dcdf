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

/// <summary>The outcome of one ingest call. Nothing was stored when <see cref="Accepted"/> is 0.</summary>
[GenerateSerializer, Immutable, Alias("ae.IngestResult")]
public sealed record IngestResult(
    [property: Id(0)] int Received,
    [property: Id(1)] int Accepted,
    [property: Id(2)] long FromSequence,
    [property: Id(3)] long ToSequence,
    [property: Id(4)] IReadOnlyList<RowError> Errors,
    [property: Id(5)] bool Replayed,
    [property: Id(6)] DateTimeOffset CommittedAt);

/// <summary>
/// The single writer of one (client, object model) partition (grain key: <c>{clientId}/{objectModel}</c>).
/// It validates rows, commits them to PostgreSQL with contiguous sequence numbers, and publishes the
/// committed batch on the client's event stream.
/// </summary>
[Alias("ae.IIngestGrain")]
public interface IIngestGrain : IGrainWithStringKey
{
    Task<IngestResult> Ingest(IngestRequest request);
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
