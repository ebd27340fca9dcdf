namespace AnalyticsEngine.Ingest;

/// <summary>
/// One committed row of an object model, in the compact form the engine evaluates.
/// Fields of type number, integer, boolean (1/0) and timestamp (Unix milliseconds) sit in
/// <see cref="Numbers"/>, text fields in <see cref="Texts"/>, each in the order the object model lists
/// them; a null number is <see cref="double.NaN"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("ae.EventRow")]
public sealed record EventRow(
    [property: Id(0)] long Sequence,
    [property: Id(1)] DateTimeOffset EventTime,
    [property: Id(2)] double[] Numbers,
    [property: Id(3)] string?[] Texts);

/// <summary>
/// Rows committed in one transaction to one (client, object model) partition. Sequences are contiguous
/// within a partition, so a consumer that last applied <c>FromSequence - 1</c> knows it missed nothing.
/// </summary>
[GenerateSerializer, Immutable, Alias("ae.EventBatch")]
public sealed record EventBatch(
    [property: Id(0)] string ClientId,
    [property: Id(1)] string ObjectModel,
    [property: Id(2)] long FromSequence,
    [property: Id(3)] long ToSequence,
    [property: Id(4)] DateTimeOffset CommittedAt,
    [property: Id(5)] EventRow[] Rows);
