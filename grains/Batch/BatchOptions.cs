namespace AnalyticsEngine.Batch;

/// <summary>Settings of scheduled batch jobs (configuration section <c>Batch</c>).</summary>
public sealed class BatchOptions
{
    /// <summary>
    /// For tests only: when set, every job's reminder ticks at this period and every tick runs the job as if due at
    /// that moment, ignoring its schedule (the reminder service's <c>MinimumReminderPeriod</c> must allow it).
    /// </summary>
    public TimeSpan? TestTickPeriod { get; set; }

    /// <summary>
    /// How many of a job's newest runs are kept with their results; older ones are deleted as a run finishes (an hourly
    /// job's thousand runs are six weeks of them).
    /// </summary>
    public int RunsKept { get; set; } = 1000;

    /// <summary>Most jobs <c>GET /batch/jobs</c> lists.</summary>
    public int MaxListed { get; set; } = 1000;
}
