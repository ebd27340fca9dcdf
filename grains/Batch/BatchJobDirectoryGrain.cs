using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace AnalyticsEngine.Batch;

/// <summary>Reads across jobs and runs from PostgreSQL, without activating the jobs' grains.</summary>
[StatelessWorker]
public sealed class BatchJobDirectoryGrain(BatchStore store, IOptions<BatchOptions> options) : Grain, IBatchJobDirectoryGrain
{
    public Task<IReadOnlyList<BatchJobInfo>> List(IReadOnlyList<string>? clientIds) =>
        store.ListJobsAsync(clientIds, options.Value.MaxListed);

    public Task<IReadOnlyList<BatchRunSummary>> ListRuns(string jobId, int limit) =>
        store.ListRunsAsync(jobId, Math.Clamp(limit, 1, 1000));

    public Task<BatchRun?> GetRun(string jobId, long runId) => store.GetRunAsync(jobId, runId);
}
