using static AnalyticsEngine.Catalog.KpiDirection;
using static AnalyticsEngine.Catalog.FieldType;
using static AnalyticsEngine.Catalog.Packs.CatalogDsl;

namespace AnalyticsEngine.Catalog.Packs;

/// <summary>Time tracking: people, their tasks and the time they track against them.</summary>
internal static class TimeTrackingPack
{
    public const string Chain = "TIME_TRACKING";
    private const string Domain = "time_data";

    public static readonly ValueChainDefinition ValueChain = new(
        Chain,
        "Time tracking and productivity",
        "How work gets done: tasks completed and on time, hours tracked, how good estimates are, and an overall productivity score.");

    public static readonly ModuleDefinition[] Modules =
    [
        new("TIME_TASKS", "Task delivery", "Completion, punctuality and estimate accuracy of tasks.", Chain),
        new("TIME_TRACKING", "Time tracked", "Hours tracked and how they are spent.", Chain),
        new("TIME_PRODUCTIVITY", "Productivity", "A composite productivity score.", Chain),
    ];

    private const string TaskStatuses = "'todo', 'in_progress', 'done' or 'archived'";

    public static readonly ObjectModelDefinition[] ObjectModels =
    [
        SnapshotObject(
            "users", "Users",
            $"People who own tasks and track time. {SnapshotRule}",
            Domain, "updated_at", ["user_id"],
            [
                Required("user_id", Text, "Identifier of the user."),
                Optional("full_name", Text, "Display name."),
                Required("is_active", FieldType.Boolean, "The account is active."),
                Optional("created_at", Timestamp, "When the user was created."),
                Required("updated_at", Timestamp, "When this state of the user became true; a later row replaces it from then on."),
            ]),
        SnapshotObject(
            "tasks", "Tasks",
            $"Work items and their current status. {SnapshotRule}",
            Domain, "updated_at", ["task_id"],
            [
                Required("task_id", Text, "Identifier of the task."),
                Required("user_id", Text, "User who owns the task."),
                Optional("title", Text, "Short title."),
                Required("status", Text, $"Status: {TaskStatuses}."),
                Required("priority", Text, "Priority: 'low', 'medium', 'high' or 'urgent'."),
                Optional("due_at", Timestamp, "When the task is due; empty when it has no deadline."),
                Optional("estimated_hours", Number, "Estimated effort in hours; more than zero when given."),
                Required("created_at", Timestamp, "When the task was created."),
                Required("updated_at", Timestamp, "When this state of the task became true; a later row replaces it from then on."),
            ],
            RefersTo("user_id", "users", "user_id")),
        EventObject(
            "task_completions", "Task completions",
            "One row each time a task is marked done, with what it took.",
            Domain, "completed_at", ["completion_id"],
            [
                Required("completion_id", Text, "Identifier of the completion (a task reopened and done again completes twice)."),
                Required("task_id", Text, "Task completed."),
                Required("user_id", Text, "User who owns the task."),
                Required("created_at", Timestamp, "When the task was created."),
                Optional("due_at", Timestamp, "When the task was due; empty when it had no deadline."),
                Required("completed_at", Timestamp, "When the task was marked done; places the completion in time."),
                Optional("estimated_hours", Number, "Estimated effort in hours; empty when the task had no estimate."),
                Required("tracked_hours", Number, "Hours tracked against the task in total (the sum of its time entries)."),
            ],
            RefersTo("task_id", "tasks", "task_id"),
            RefersTo("user_id", "users", "user_id")),
        EventObject(
            "time_entries", "Time entries",
            "Tracked stretches of work, one row per finished entry (a running timer arrives when it stops).",
            Domain, "started_at", ["entry_id"],
            [
                Required("entry_id", Text, "Identifier of the time entry."),
                Required("user_id", Text, "User who tracked the time."),
                Optional("task_id", Text, "Task the time was spent on; empty for time not linked to a task."),
                Required("started_at", Timestamp, "When tracking started; places the entry in time."),
                Optional("ended_at", Timestamp, "When tracking stopped; empty while the timer runs."),
                Optional("duration_seconds", Integer, "Tracked seconds, ended_at minus started_at; empty while the timer runs."),
                Required("is_active", FieldType.Boolean, "The timer is still running."),
                Optional("work_date", Text, "Calendar day of the entry in the user's time zone, as YYYY-MM-DD; counts working days."),
                Optional("description", Text, "What was worked on."),
            ],
            RefersTo("user_id", "users", "user_id"),
            RefersTo("task_id", "tasks", "task_id")),
    ];

    private const string Completed = "count(task_completions)";
    private const string CompletedOnTime = "count(task_completions) filter (where task_completions.completed_at <= task_completions.due_at)";
    private const string Estimated = "where task_completions.estimated_hours is not null";
    private const string HoursTracked = "coalesce(sum(time_entries.duration_seconds), 0) / 3600";
    private const string WorkingDays = "greatest(count_distinct(time_entries.work_date), 1)";

    public static readonly KpiDefinition[] Kpis =
    [
        Define("TIME_TASK_COMPLETION_RATE", "Task Completion Rate",
            "Share of tasks that are done at the end of the period, among all tasks not archived.",
            "100 * count(tasks) filter (where tasks.status = 'done') / count(tasks) filter (where tasks.status != 'archived')",
            Units.Percent, HigherIsBetter, "TIME_TASKS", Chain, "tasks"),
        Define("TIME_OPEN_TASKS", "Open Tasks",
            "Number of tasks to do or in progress at the end of the period.",
            "count(tasks) filter (where tasks.status in ('todo', 'in_progress'))",
            Units.Count, LowerIsBetter, "TIME_TASKS", Chain, "tasks"),
        Define("TIME_TASKS_COMPLETED", "Tasks Completed",
            "Number of tasks marked done in the period.",
            Completed,
            Units.Count, HigherIsBetter, "TIME_TASKS", Chain, "task_completions"),
        Define("TIME_ON_TIME_COMPLETION_RATE", "On-Time Completion Rate",
            "Share of the tasks completed in the period, among those with a deadline, that were done by it.",
            $"100 * {CompletedOnTime} / count(task_completions) filter (where task_completions.due_at is not null)",
            Units.Percent, HigherIsBetter, "TIME_TASKS", Chain, "task_completions"),
        Define("TIME_AVG_COMPLETION_TIME", "Average Task Completion Time",
            "Average hours from a task being created to it being marked done, over tasks completed in the period.",
            "avg(task_completions.completed_at - task_completions.created_at) / 3600000",
            Units.Hours, LowerIsBetter, "TIME_TASKS", Chain, "task_completions"),
        Define("TIME_ESTIMATE_VARIANCE", "Estimate Variance",
            "Average of tracked minus estimated hours over tasks completed in the period that had an estimate: positive means work " +
            "took longer than estimated, negative that it was overestimated; best near zero, and overruns are what the direction flags.",
            $"avg(task_completions.tracked_hours - task_completions.estimated_hours) filter ({Estimated})",
            Units.Hours, LowerIsBetter, "TIME_TASKS", Chain, "task_completions"),
        Define("TIME_ESTIMATE_VARIANCE_PCT", "Estimate Variance (relative)",
            "Tracked hours over or under the estimate as a share of estimated hours, over tasks completed in the period that had an estimate.",
            $"100 * (sum(task_completions.tracked_hours) filter ({Estimated}) - sum(task_completions.estimated_hours) filter ({Estimated})) / " +
            $"sum(task_completions.estimated_hours) filter ({Estimated})",
            Units.Percent, LowerIsBetter, "TIME_TASKS", Chain, "task_completions"),

        Define("TIME_HOURS_TRACKED", "Hours Tracked",
            "Total hours of finished time entries started in the period.",
            HoursTracked,
            Units.Hours, HigherIsBetter, "TIME_TRACKING", Chain, "time_entries"),
        Define("TIME_AVG_SESSION_LENGTH", "Average Tracking Session",
            "Average length in hours of a finished time entry.",
            "avg(time_entries.duration_seconds) / 3600",
            Units.Hours, HigherIsBetter, "TIME_TRACKING", Chain, "time_entries"),
        Define("TIME_UNLINKED_TIME_SHARE", "Time Not Linked to Tasks",
            "Share of tracked time not attributed to any task.",
            "100 * coalesce(sum(time_entries.duration_seconds) filter (where time_entries.task_id is null), 0) / sum(time_entries.duration_seconds)",
            Units.Percent, LowerIsBetter, "TIME_TRACKING", Chain, "time_entries"),

        // The time-tracking specification's score, with one adaptation: its "days in period" becomes the number of
        // distinct working days with tracked time, because a formula sees rows, not the length of the window.
        Define("TIME_PRODUCTIVITY_SCORE", "Productivity Score",
            "Score from 0 to 100: 20 points per task completed per working day, up to 30 for the share of completed tasks done by their deadline, " +
            "up to 30 for tracking 8 hours per working day, up to 20 for completing 5 tasks; capped at 100. Working days are the days with tracked time.",
            $"least(100, {Completed} / {WorkingDays} * 20 + {CompletedOnTime} / greatest({Completed}, 1) * 30 + " +
            $"least({HoursTracked} / {WorkingDays} / 8, 1) * 30 + least({Completed} / 5, 1) * 20)",
            Units.Score, HigherIsBetter, "TIME_PRODUCTIVITY", Chain, "task_completions", "time_entries"),
    ];
}
