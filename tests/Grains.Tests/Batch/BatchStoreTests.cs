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
    public async Task Every_scheduled_job_of_a_client_is_listed_when_no_limit_is_given_and_the_newest_within_one()
    {
        var clientId = "store-jobs-" + Guid.NewGuid().ToString("N")[..10];
        var created = new DateTimeOffset(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);
        var definition = new BatchJobDefinition(
            clientId, ["POF"], false, new BatchRange(BatchRangeUnit.Day, 1), QueryGranularity.Hour, null, new BatchSchedule(BatchFrequency.Daily, 6, 0));
        for (var i = 0; i < 5; i++)
        {
            var status = i == 2 ? BatchJobStatus.Unscheduled : BatchJobStatus.Scheduled;
            await _store.UpsertJobAsync(new BatchJobInfo($"{clientId}-{i}", definition, status, created.AddMinutes(i), created.AddDays(1), null));
        }

        var limited = await _store.ListJobsAsync([clientId], limit: 2);
        var all = await _store.ListJobsAsync([clientId], limit: null);

        Assert.Equal([$"{clientId}-4", $"{clientId}-3"], limited.Select(j => j.JobId));
        Assert.Equal([$"{clientId}-4", $"{clientId}-3", $"{clientId}-1", $"{clientId}-0"], all.Select(j => j.JobId));
    }
}
