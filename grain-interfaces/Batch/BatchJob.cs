using AnalyticsEngine.Query;

namespace AnalyticsEngine.Batch;

/// <summary>How often a scheduled batch job runs, on the client's local clock.</summary>
public enum BatchFrequency
{
    Hourly = 0,
    Daily = 1,
    Weekly = 2,
}

/// <summary>
/// When a job runs, in the client's time zone: hourly at <see cref="Minute"/> past each hour, daily at
/// <see cref="Hour"/>:<see cref="Minute"/>, weekly on <see cref="DayOfWeek"/> at <see cref="Hour"/>:<see cref="Minute"/>.
/// A local time skipped by a spring-forward change runs when the clock resumes (shifted by the gap); a local time
/// repeated by a fall-back change runs once, at its first occurrence (hourly jobs run in each real hour).
/// </summary>
[GenerateSerializer, Immutable, Alias("ae.BatchSchedule")]
public sealed record BatchSchedule(
    [property: Id(0)] BatchFrequency Frequency,
    [property: Id(1)] int Hour,
    [property: Id(2)] int Minute,
    [property: Id(3)] DayOfWeek DayOfWeek = DayOfWeek.Monday);

/// <summary>The calendar unit of a relative range.</summary>
public enum BatchRangeUnit
{
    Hour = 0,
    Day = 1,
    Week = 2,
    Month = 3,
}

/// <summary>
/// The range one run covers, relative to the time the run was due: the <see cref="Count"/> complete
/// <see cref="Unit"/>s just before the one holding that time, in the client's time zone (weeks start on Monday).
/// E.g. <c>(Day, 1)</c> is "yesterday", <c>(Week, 1)</c> "last week", <c>(Hour, 24)</c> "the previous 24 whole hours".
/// </summary>
[GenerateSerializer, Immutable, Alias("ae.BatchRange")]
public sealed record BatchRange(
    [property: Id(0)] BatchRangeUnit Unit,
    [property: Id(1)] int Count)
{
    /// <summary>The most hours a range may span (about a month): the largest count of any unit.</summary>
    public const int MaxHours = 24 * 31;

    /// <summary>Most units one relative range may span, per unit (about a month of hours, a year of days, ...).</summary>
    public static int MaxCount(BatchRangeUnit unit) => unit switch
    {
        BatchRangeUnit.Hour => MaxHours,
        BatchRangeUnit.Day => 366,
        BatchRangeUnit.Week => 104,
        _ => 60,
    };
}

/// <summary>What a scheduled batch job computes and when.</summary>
/// <param name="KpiCodes">The KPIs to compute; ignored when <paramref name="Dashboard"/> is set.</param>
/// <param name="Dashboard">Compute the KPIs the client has selected at the time of each run.</param>
/// <param name="Dimension">Optional field to drill down by, as in a one-time query.</param>
/// <param name="Name">A label for people; optional.</param>
[GenerateSerializer, Immutable, Alias("ae.BatchJobDefinition")]
public sealed record BatchJobDefinition(
    [property: Id(0)] string ClientId,
    [property: Id(1)] IReadOnlyList<string> KpiCodes,
    [property: Id(2)] bool Dashboard,
    [property: Id(3)] BatchRange Range,
    [property: Id(4)] QueryGranularity Granularity,
    [property: Id(5)] string? Dimension,
    [property: Id(6)] BatchSchedule Schedule,
    [property: Id(7)] string? Name = null);

/// <summary>Whether a job is still scheduled.</summary>
public enum BatchJobStatus
{
    /// <summary>Its reminder is registered; it runs at <see cref="BatchJobInfo.NextRunAt"/>.</summary>
    Scheduled = 0,

    /// <summary>Unscheduled by a user: no more runs; past runs stay readable.</summary>
    Unscheduled = 1,
}

/// <summary>What started a run.</summary>
public enum BatchRunTrigger
{
    Schedule = 0,
    Manual = 1,
}

/// <summary>How a run went.</summary>
public enum BatchRunStatus
{
    Running = 0,

    /// <summary>Every query answered; the results are stored.</summary>
    Succeeded = 1,

    /// <summary>At least one query failed or the run could not finish; <see cref="BatchRunSummary.Error"/> says why.</summary>
    Failed = 2,
}

/// <summary>One run of a job: when it ran, over which range, and how it went (its results are stored apart).</summary>
/// <param name="ScheduledFor">The time the run was due (manual runs: when they were asked for); the range is relative to it.</param>
[GenerateSerializer, Immutable, Alias("ae.BatchRunSummary")]
public sealed record BatchRunSummary(
    [property: Id(0)] string JobId,
    [property: Id(1)] long RunId,
    [property: Id(2)] BatchRunTrigger Trigger,
    [property: Id(3)] DateTimeOffset ScheduledFor,
    [property: Id(4)] DateTimeOffset From,
    [property: Id(5)] DateTimeOffset To,
    [property: Id(6)] BatchRunStatus Status,
    [property: Id(7)] DateTimeOffset StartedAt,
    [property: Id(8)] DateTimeOffset? FinishedAt,
    [property: Id(9)] string? Error);

/// <summary>A run and its stored results, one <see cref="KpiQueryResult"/> per KPI in the job's order.</summary>
[GenerateSerializer, Immutable, Alias("ae.BatchRun")]
public sealed record BatchRun(
    [property: Id(0)] string ClientId,
    [property: Id(1)] BatchRunSummary Summary,
    [property: Id(2)] IReadOnlyList<KpiQueryResult> Results);

/// <summary>A job as users see it: its definition, status, next run and last run.</summary>
[GenerateSerializer, Immutable, Alias("ae.BatchJobInfo")]
public sealed record BatchJobInfo(
    [property: Id(0)] string JobId,
    [property: Id(1)] BatchJobDefinition Definition,
    [property: Id(2)] BatchJobStatus Status,
    [property: Id(3)] DateTimeOffset CreatedAt,
    [property: Id(4)] DateTimeOffset? NextRunAt,
    [property: Id(5)] BatchRunSummary? LastRun);

/// <summary>Why a definition was refused, naming the request field at fault (e.g. <c>kpiCodes</c>, <c>schedule.hour</c>).</summary>
[GenerateSerializer, Immutable, Alias("ae.BatchJobProblem")]
public sealed record BatchJobProblem(
    [property: Id(0)] string Field,
    [property: Id(1)] string Message);

/// <summary>The answer to <see cref="IBatchJobGrain.Schedule"/>: the job, or the problems that refused it.</summary>
[GenerateSerializer, Immutable, Alias("ae.BatchJobScheduled")]
public sealed record BatchJobScheduled(
    [property: Id(0)] BatchJobInfo? Job,
    [property: Id(1)] IReadOnlyList<BatchJobProblem> Problems);

/// <summary>The answer to <see cref="IBatchJobGrain.RunNow"/>.</summary>
public enum BatchRunStart
{
    Started = 0,
    UnknownJob = 1,
    Unscheduled = 2,
    AlreadyRunning = 3,
}

/// <summary>The answer to <see cref="IBatchJobGrain.RunNow"/>: the run that started (status running), if one did.</summary>
[GenerateSerializer, Immutable, Alias("ae.BatchRunStarted")]
public sealed record BatchRunStarted(
    [property: Id(0)] BatchRunStart Outcome,
    [property: Id(1)] BatchRunSummary? Run);

/// <summary>
/// One scheduled batch job (mode 3), keyed by job id: its definition and status in grain storage, an Orleans
/// reminder that ticks it, and its runs' results in <c>batch.runs</c>. Each run queries through
/// <see cref="IKpiQueryGrain"/>, so it answers exactly what <c>POST /calculate</c> answers for the same range.
/// </summary>
[Alias("ae.IBatchJobGrain")]
public interface IBatchJobGrain : IGrainWithStringKey
{
    /// <summary>Creates the job (once; a job's definition does not change) and registers its reminder.</summary>
    Task<BatchJobScheduled> Schedule(BatchJobDefinition definition);

    /// <summary>The job, or null when no job has this id.</summary>
    [Orleans.Concurrency.AlwaysInterleave]
    Task<BatchJobInfo?> GetInfo();

    /// <summary>Starts a run now, over the range relative to now; it finishes in the background.</summary>
    Task<BatchRunStarted> RunNow();

    /// <summary>Removes the reminder; returns false when no job has this id.</summary>
    Task<bool> Unschedule();

    /// <summary>
    /// The client's time zone changed: its due times are its local clock's, so the next one is worked out again in
    /// the new zone (and the reminder moved to it). Nothing for a job not scheduled.
    /// </summary>
    Task ClientZoneChanged();
}

/// <summary>Where a page of jobs starts: just after the job of <see cref="JobId"/>, created at <see cref="CreatedAt"/> (as stored).</summary>
[GenerateSerializer, Immutable, Alias("ae.BatchJobCursor")]
public sealed record BatchJobCursor(
    [property: Id(0)] DateTimeOffset CreatedAt,
    [property: Id(1)] string JobId);

/// <summary>One page of a list of jobs, and where the next starts (null on the last page).</summary>
[GenerateSerializer, Immutable, Alias("ae.BatchJobPage")]
public sealed record BatchJobPage(
    [property: Id(0)] IReadOnlyList<BatchJobInfo> Jobs,
    [property: Id(1)] BatchJobCursor? Next);

/// <summary>Reads across jobs from <c>batch.jobs</c> and <c>batch.runs</c> (stateless worker; use key 0).</summary>
[Alias("ae.IBatchJobDirectoryGrain")]
public interface IBatchJobDirectoryGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// A page of the scheduled jobs of these clients (all clients when null), newest first: at most
    /// <paramref name="limit"/> (itself at most <c>Batch:MaxListed</c>), from just after <paramref name="after"/>.
    /// </summary>
    Task<BatchJobPage> List(IReadOnlyList<string>? clientIds, int limit, BatchJobCursor? after);

    /// <summary>
    /// Every scheduled job of one client, newest first, however many: for what must reach them all (a change of the
    /// client's zone, the deletion of a KPI one of them computes). A run a job lost with its silo is not looked into.
    /// </summary>
    Task<IReadOnlyList<BatchJobInfo>> ListAllOf(string clientId);

    /// <summary>The latest runs of one job, newest first, without their results.</summary>
    Task<IReadOnlyList<BatchRunSummary>> ListRuns(string jobId, int limit);

    /// <summary>One run with its results, or null.</summary>
    Task<BatchRun?> GetRun(string jobId, long runId);
}
