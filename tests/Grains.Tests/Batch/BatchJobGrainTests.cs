using AnalyticsEngine.Batch;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Query;
using Orleans.Core.Internal;

namespace AnalyticsEngine.Grains.Tests.Batch;

/// <summary>A job grain on a real cluster: its reminder fires, runs are stored, and both survive the grain's deactivation.</summary>
[Collection(BatchClusterCollection.Name)]
public sealed class BatchJobGrainTests(BatchClusterFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private async Task<string> NewClientAsync()
    {
        var clientId = "batch-" + Guid.NewGuid().ToString("N")[..10];
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId)
            .Put(new ClientConfig(clientId, "Batch", "Europe/Berlin", ["POF", "OTD"], [], [], 0)));
        return clientId;
    }

    private static BatchJobDefinition Hourly(string clientId, params string[] kpis) => new(
        clientId, kpis, Dashboard: kpis.Length == 0, new BatchRange(BatchRangeUnit.Hour, 2), QueryGranularity.Hour, null,
        new BatchSchedule(BatchFrequency.Hourly, 0, 5));

    private static async Task<T> PollAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}; last seen: {value}");
            await Task.Delay(100);
        }
    }

    /// <summary>A new client's job of POF, hourly, scheduled.</summary>
    private async Task<(string JobId, IBatchJobGrain Job)> ScheduleHourlyPofAsync()
    {
        var clientId = await NewClientAsync();
        var jobId = Guid.NewGuid().ToString("N");
        var job = fixture.Client.GetGrain<IBatchJobGrain>(jobId);
        Assert.Empty((await job.Schedule(Hourly(clientId, "POF"))).Problems);
        return (jobId, job);
    }

    private async Task<IReadOnlyList<BatchRunSummary>> RunsAsync(string jobId) =>
        await fixture.Client.GetGrain<IBatchJobDirectoryGrain>(0).ListRuns(jobId, 100);

    private static async Task<long> ReminderRowsAsync(string serviceId, string jobId)
    {
        await using var command = TestDatabase.DataSource.CreateCommand(
            "SELECT count(*) FROM orleans.reminders WHERE service_id = $1 AND grain_id LIKE '%' || $2");
        command.Parameters.AddWithValue(serviceId);
        command.Parameters.AddWithValue(jobId);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task The_reminder_fires_runs_are_stored_and_both_survive_deactivation()
    {
        var clientId = await NewClientAsync();
        var jobId = Guid.NewGuid().ToString("N");
        var job = fixture.Client.GetGrain<IBatchJobGrain>(jobId);

        var scheduled = await job.Schedule(Hourly(clientId, "POF", "OTD"));
        Assert.Empty(scheduled.Problems);
        Assert.Equal(BatchJobStatus.Scheduled, scheduled.Job!.Status);
        Assert.Equal(1, await ReminderRowsAsync(fixture.ServiceId, jobId));

        // The reminder, not a caller, starts these runs.
        var firstRuns = await PollAsync(() => RunsAsync(jobId), r => r.Any(x => x.Status == BatchRunStatus.Succeeded), "a scheduled run to succeed");
        var first = firstRuns.Last(x => x.Status == BatchRunStatus.Succeeded);
        Assert.Equal(BatchRunTrigger.Schedule, first.Trigger);
        Assert.Null(first.Error);
        Assert.Equal(TimeSpan.FromHours(2), first.To - first.From);

        var stored = await fixture.Client.GetGrain<IBatchJobDirectoryGrain>(0).GetRun(jobId, first.RunId);
        Assert.NotNull(stored);
        Assert.Equal(["POF", "OTD"], stored.Results.Select(r => r.KpiCode));
        Assert.All(stored.Results, r => Assert.Equal(2, r.Series.Single().Values.Count));

        // Deactivate the job's grain: the persisted reminder brings it back, and it carries on from its stored state.
        await job.AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        var before = firstRuns.Max(r => r.RunId);
        var later = await PollAsync(() => RunsAsync(jobId), r => r.Count(x => x.RunId > before && x.Status == BatchRunStatus.Succeeded) >= 2, "two runs after deactivation");
        Assert.Equal(Enumerable.Range(1, later.Count).Select(i => (long)i).Reverse(), later.Select(r => r.RunId));

        var info = await job.GetInfo();
        Assert.NotNull(info);
        Assert.True(info.LastRun!.RunId > before);
        Assert.True(info.NextRunAt > info.LastRun.ScheduledFor);
    }

    [Fact]
    public async Task A_job_listed_with_a_run_it_no_longer_has_is_listed_as_the_job_itself_says()
    {
        var (jobId, job) = await ScheduleHourlyPofAsync();

        // What a silo that stopped during run 999 leaves in the listing: the job's projection says it is running.
        var info = (await job.GetInfo())!;
        var lost = new BatchRunSummary(jobId, 999, BatchRunTrigger.Manual, info.CreatedAt, info.CreatedAt.AddHours(-2), info.CreatedAt,
            BatchRunStatus.Running, info.CreatedAt, null, null);
        await new BatchStore(TestDatabase.DataSource).UpsertJobAsync(info with { LastRun = lost });

        var listed = Assert.Single((await fixture.Client.GetGrain<IBatchJobDirectoryGrain>(0).List([info.Definition.ClientId], 100, null)).Jobs);

        Assert.NotEqual(999, listed.LastRun?.RunId);
    }

    [Fact]
    public async Task A_run_due_while_the_last_one_still_goes_is_listed_as_skipped_and_the_last_one_finishes()
    {
        var (jobId, job) = await ScheduleHourlyPofAsync();

        // Every query reads the rollup coverage first: held, a run of the job waits there past the next tick.
        await using var holder = await TestDatabase.DataSource.OpenConnectionAsync();
        var transaction = await holder.BeginTransactionAsync();
        await using (var hold = new Npgsql.NpgsqlCommand("LOCK TABLE query.rollup_terms IN ACCESS EXCLUSIVE MODE", holder, transaction))
        {
            await hold.ExecuteNonQueryAsync();
        }

        IReadOnlyList<BatchRunSummary> runs;
        try
        {
            runs = await PollAsync(() => RunsAsync(jobId), r => r.Any(IsSkipped), "a skipped run");
        }
        finally
        {
            await transaction.RollbackAsync();
        }

        // The run it names was the one still going, and it finishes once its query may read.
        var skipped = runs.First(IsSkipped);
        var held = runs.Single(x => x.Status == BatchRunStatus.Running);
        Assert.Equal(BatchRunStatus.Failed, skipped.Status);
        Assert.True(skipped.RunId > held.RunId);
        Assert.StartsWith($"Skipped: run {held.RunId}, started at ", skipped.Error, StringComparison.Ordinal);
        var finished = await PollAsync(() => RunsAsync(jobId), r => r.Single(x => x.RunId == held.RunId).Status != BatchRunStatus.Running, "the held run to finish");
        Assert.Equal(BatchRunStatus.Succeeded, finished.Single(x => x.RunId == held.RunId).Status);

        static bool IsSkipped(BatchRunSummary run) => run.Error?.StartsWith("Skipped", StringComparison.Ordinal) == true;
    }

    [Fact]
    public async Task Unscheduling_removes_the_reminder_and_refuses_manual_runs()
    {
        var clientId = await NewClientAsync();
        var jobId = Guid.NewGuid().ToString("N");
        var job = fixture.Client.GetGrain<IBatchJobGrain>(jobId);
        Assert.Empty((await job.Schedule(Hourly(clientId))).Problems);
        Assert.Equal(1, await ReminderRowsAsync(fixture.ServiceId, jobId));

        Assert.True(await job.Unschedule());

        Assert.Equal(0, await ReminderRowsAsync(fixture.ServiceId, jobId));
        Assert.Equal(BatchJobStatus.Unscheduled, (await job.GetInfo())!.Status);
        Assert.Null((await job.GetInfo())!.NextRunAt);
        Assert.Equal(BatchRunStart.Unscheduled, (await job.RunNow()).Outcome);
        Assert.DoesNotContain((await fixture.Client.GetGrain<IBatchJobDirectoryGrain>(0).List([clientId], 100, null)).Jobs, j => j.JobId == jobId);
    }

    [Fact]
    public async Task A_manual_run_of_the_dashboard_computes_the_selected_kpis()
    {
        var clientId = await NewClientAsync();
        var jobId = Guid.NewGuid().ToString("N");
        var job = fixture.Client.GetGrain<IBatchJobGrain>(jobId);
        Assert.Empty((await job.Schedule(Hourly(clientId))).Problems);

        // The test ticks run the job every two seconds too; a manual run starts as soon as none is going.
        var started = await PollAsync(job.RunNow, s => s.Outcome == BatchRunStart.Started, "a manual run to start");
        Assert.Equal(BatchRunTrigger.Manual, started.Run!.Trigger);
        Assert.Equal(BatchRunStatus.Running, started.Run.Status);
        var runs = await PollAsync(() => RunsAsync(jobId), r => r.Any(x => x.RunId == started.Run.RunId && x.Status != BatchRunStatus.Running), "the manual run to finish");
        var manual = runs.Single(x => x.RunId == started.Run.RunId);
        Assert.Equal(BatchRunStatus.Succeeded, manual.Status);
        // The run as the job answered it and as stored name the same times, to the microsecond PostgreSQL keeps.
        Assert.Equal((started.Run.ScheduledFor, started.Run.StartedAt), (manual.ScheduledFor, manual.StartedAt));
        var stored = await fixture.Client.GetGrain<IBatchJobDirectoryGrain>(0).GetRun(jobId, manual.RunId);
        Assert.Equal(["POF", "OTD"], stored!.Results.Select(r => r.KpiCode));
    }

    [Fact]
    public async Task A_job_for_an_unknown_client_or_kpi_is_refused_naming_the_field()
    {
        var unknownClient = await fixture.Client.GetGrain<IBatchJobGrain>(Guid.NewGuid().ToString("N"))
            .Schedule(Hourly("no-such-client-" + Guid.NewGuid().ToString("N")[..6], "POF"));
        Assert.Null(unknownClient.Job);
        Assert.Contains(unknownClient.Problems, p => p.Field == "clientId");

        var clientId = await NewClientAsync();
        var unknownKpi = await fixture.Client.GetGrain<IBatchJobGrain>(Guid.NewGuid().ToString("N")).Schedule(Hourly(clientId, "POF", "NOPE"));
        Assert.Contains(unknownKpi.Problems, p => p.Field == "kpiCodes" && p.Message.Contains("NOPE", StringComparison.Ordinal));

        var badDimension = await fixture.Client.GetGrain<IBatchJobGrain>(Guid.NewGuid().ToString("N"))
            .Schedule(Hourly(clientId, "OTD") with { Dimension = "no_such_field" });
        Assert.Contains(badDimension.Problems, p => p.Field == "dimension");
    }
}
