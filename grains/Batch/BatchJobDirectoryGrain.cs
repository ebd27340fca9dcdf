using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace AnalyticsEngine.Batch;

/// <summary>
/// Reads across jobs and runs from PostgreSQL, without activating the jobs' grains. Stateless, so reentrant: a list
/// waiting on the database or on a job does not hold up the next.
/// </summary>
[StatelessWorker]
[Reentrant]
public sealed class BatchJobDirectoryGrain(BatchStore store, IOptions<BatchOptions> options) : Grain, IBatchJobDirectoryGrain
{
    public async Task<BatchJobPage> List(IReadOnlyList<string>? clientIds, int limit, BatchJobCursor? after)
    {
        var page = await store.ListJobsAsync(clientIds, Math.Clamp(limit, 1, options.Value.MaxListed), after);
        var jobs = page.Jobs;
        if (!jobs.Any(IsRunning))
        {
            return page;
        }

        // A job listed with a run going may have lost that run with its silo, and would say so only when it next wakes
        // (a week on, for a weekly job). Asking it wakes it now: it answers for itself, and marks a run it no longer has
        // as interrupted as it wakes.
        var answers = await Task.WhenAll(jobs.Select(async job => IsRunning(job)
            ? await GrainFactory.GetGrain<IBatchJobGrain>(job.JobId).GetInfo() ?? job
            : job));
        return page with { Jobs = answers };
    }

    public async Task<IReadOnlyList<BatchJobInfo>> ListAllOf(string clientId) => (await store.ListJobsAsync([clientId], limit: null)).Jobs;

    public async Task<IReadOnlyList<BatchRunSummary>> ListRuns(string jobId, int limit)
    {
        limit = Math.Clamp(limit, 1, 1000);
        var runs = await store.ListRunsAsync(jobId, limit);
        if (runs is [{ Status: BatchRunStatus.Running }, ..])
        {
            // As for List: the job decides whether its newest run still goes, and the runs are read again after it has.
            await GrainFactory.GetGrain<IBatchJobGrain>(jobId).GetInfo();
            runs = await store.ListRunsAsync(jobId, limit);
        }

        return runs;
    }

    private static bool IsRunning(BatchJobInfo job) => job.LastRun?.Status == BatchRunStatus.Running;

    public Task<BatchRun?> GetRun(string jobId, long runId) => store.GetRunAsync(jobId, runId);
}
