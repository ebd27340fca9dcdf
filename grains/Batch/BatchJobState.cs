namespace AnalyticsEngine.Batch;

/// <summary>What a <see cref="BatchJobGrain"/> keeps in grain storage.</summary>
[GenerateSerializer, Alias("ae.BatchJobState")]
public sealed class BatchJobState
{
    /// <summary>The grain storage provider holding job state (ADO.NET, PostgreSQL).</summary>
    public const string StorageName = "batch-store";

    [Id(0)] public BatchJobDefinition? Definition { get; set; }

    [Id(1)] public BatchJobStatus Status { get; set; }

    [Id(2)] public DateTimeOffset CreatedAt { get; set; }

    [Id(3)] public DateTimeOffset? NextRunAt { get; set; }

    /// <summary>The id of the latest run; run ids count up from 1 per job.</summary>
    [Id(4)] public long LastRunId { get; set; }

    [Id(5)] public BatchRunSummary? LastRun { get; set; }
}
