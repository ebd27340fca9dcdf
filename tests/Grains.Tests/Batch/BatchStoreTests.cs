using AnalyticsEngine.Batch;
using AnalyticsEngine.Query;

namespace AnalyticsEngine.Grains.Tests.Batch;

/// <summary>How runs are stored when a job's silo stops between its writes.</summary>
public sealed class BatchStoreTests : IAsyncLifetime
{
    private const string Interrupted = "The run was interrupted.";

    private readonly BatchStore _store = new(TestDatabase.DataSource);

    private readonly string _jobId = "store-" + Guid.NewGuid().ToString("N")[..10];

    public Task InitializeAsync() => TestDatabase.EnsureMigratedAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private BatchRunSummary Run(long runId, BatchRunTrigger trigger, DateTimeOffset due) =>
        new(_jobId, runId, trigger, due, due.AddHours(-2), due, BatchRunStatus.Running, due.AddSeconds(1), null, null);

    [Fact]
    public async Task A_run_that_stored_its_outcome_keeps_it_when_its_job_wakes_believing_it_still_runs()
    {
        var due = new DateTimeOffset(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);
        var running = Run(1, BatchRunTrigger.Schedule, due);
        await _store.InsertRunAsync("c", running);
        var succeeded = running with { Status = BatchRunStatus.Succeeded, FinishedAt = due.AddSeconds(5) };
        KpiQueryResult[] results = [new("c", "POF", QueryGranularity.Hour, running.From, running.To, null, [], null)];
        await _store.FinishRunAsync(succeeded, results, runsKept: 10);

        var stored = await _store.FinishInterruptedRunAsync(running, Interrupted);

        Assert.Equal(BatchRunStatus.Succeeded, stored?.Status);
        Assert.Null(stored!.Error);
        Assert.Equal("POF", Assert.Single((await _store.GetRunAsync(_jobId, 1))!.Results).KpiCode);
    }

    [Fact]
    public async Task A_run_still_running_when_its_job_wakes_is_stored_as_interrupted()
    {
        var running = Run(1, BatchRunTrigger.Manual, new DateTimeOffset(2026, 11, 2, 10, 0, 0, TimeSpan.Zero));
        await _store.InsertRunAsync("c", running);

        var stored = await _store.FinishInterruptedRunAsync(running, Interrupted);

        Assert.Equal((BatchRunStatus.Failed, Interrupted), (stored?.Status, stored?.Error));
        Assert.NotNull(stored!.FinishedAt);
    }

    [Fact]
    public async Task A_start_under_an_id_an_unrecorded_start_left_behind_replaces_that_row_whole()
    {
        var tuesday = new DateTimeOffset(2026, 11, 3, 9, 30, 0, TimeSpan.Zero);
        await _store.InsertRunAsync("c", Run(4, BatchRunTrigger.Schedule, tuesday.AddDays(-1)));
        await _store.FinishRunAsync(Run(4, BatchRunTrigger.Schedule, tuesday.AddDays(-1)) with { Status = BatchRunStatus.Failed, Error = "old" }, [], runsKept: 10);

        var manual = Run(4, BatchRunTrigger.Manual, tuesday);
        await _store.InsertRunAsync("c", manual);

        var stored = Assert.Single(await _store.ListRunsAsync(_jobId, 10));
        Assert.Equal(manual, stored);
    }

    [Fact]
    public async Task A_finished_run_deletes_the_runs_older_than_the_newest_kept()
    {
        var due = new DateTimeOffset(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);
        for (var id = 1; id <= 5; id++)
        {
            await _store.InsertRunAsync("c", Run(id, BatchRunTrigger.Schedule, due.AddHours(id)));
        }

        await _store.FinishRunAsync(Run(5, BatchRunTrigger.Schedule, due.AddHours(5)) with { Status = BatchRunStatus.Succeeded }, [], runsKept: 2);

        Assert.Equal([5L, 4L], (await _store.ListRunsAsync(_jobId, 10)).Select(r => r.RunId));
    }

    [Fact]
    public async Task Scheduled_jobs_are_listed_newest_first_page_by_page_and_every_one_without_a_limit()
    {
        var clientId = "store-jobs-" + Guid.NewGuid().ToString("N")[..10];
        var created = new DateTimeOffset(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);
        var definition = new BatchJobDefinition(
            clientId, ["POF"], false, new BatchRange(BatchRangeUnit.Day, 1), QueryGranularity.Hour, null, new BatchSchedule(BatchFrequency.Daily, 6, 0));
        // Jobs 3 and 4 were created in the same microsecond: their ids order them, across the pages' boundary. Job 2 is
        // unscheduled.
        var minutes = new[] { 0, 1, 2, 3, 3, 5, 6 };
        for (var i = 0; i < minutes.Length; i++)
        {
            var status = i == 2 ? BatchJobStatus.Unscheduled : BatchJobStatus.Scheduled;
            await _store.UpsertJobAsync(new BatchJobInfo($"{clientId}-{i}", definition, status, created.AddMinutes(minutes[i]), created.AddDays(1), null));
        }

        var pages = new List<BatchJobPage> { await _store.ListJobsAsync([clientId], limit: 3) };
        while (pages[^1].Next is { } next)
        {
            pages.Add(await _store.ListJobsAsync([clientId], limit: 3, after: next));
        }

        var all = await _store.ListJobsAsync([clientId], limit: null);

        string[] newestFirst = [.. new[] { 6, 5, 3, 4, 1, 0 }.Select(i => $"{clientId}-{i}")];
        Assert.Equal([3, 3], pages.Select(p => p.Jobs.Count));
        Assert.Equal(newestFirst, pages.SelectMany(p => p.Jobs).Select(j => j.JobId));
        Assert.Equal(newestFirst, all.Jobs.Select(j => j.JobId));
        Assert.Null(all.Next);
    }
}
