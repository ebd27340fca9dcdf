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

    public static readonly ObjectModelDefinition[] ObjectModels =
    [
        SnapshotObject(
            "users", "Users",
            "People who own tasks and track time; each new row for a user replaces the previous one.",
            Domain, "created_at", ["user_id"],
            [
                Required("user_id", Text, "Identifier of the user."),
                Optional("full_name", Text, "Display name."),
                Required("is_active", FieldType.Boolean, "The account is active."),
                Required("created_at", Timestamp, "When the user was created; never changes for a user."),
            ]),
        SnapshotObject(
            "tasks", "Tasks",
            "Work items; each new row for a task replaces the previous one. Placed in time by when the task was created, " +
            "so a period holds the tasks created in it, each in its latest state.",
            Domain, "created_at", ["task_id"],
            [
                Required("task_id", Text, "Identifier of the task."),
                Required("user_id", Text, "User who owns the task."),
                Optional("title", Text, "Short title."),
                Required("status", Text, "Status: 'todo', 'in_progress', 'done' or 'archived'."),
                Required("priority", Text, "Priority: 'low', 'medium', 'high' or 'urgent'."),
                Optional("due_at", Timestamp, "When the task is due; empty when it has no deadline."),
                Optional("estimated_hours", Number, "Estimated effort in hours; more than zero when given."),
                Required("tracked_hours", Number, "Hours tracked against the task so far (sum of its time entries)."),
                Required("created_at", Timestamp, "When the task was created; never changes for a task."),
                Optional("completed_at", Timestamp, "When the task was marked done; empty while not done."),
            ],
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

    private const string Done = "count(tasks) filter (where tasks.status = 'done')";
    private const string DoneOnTime = "count(tasks) filter (where tasks.status = 'done' and tasks.completed_at <= tasks.due_at)";
    private const string HoursTracked = "coalesce(sum(time_entries.duration_seconds), 0) / 3600";
    private const string WorkingDays = "greatest(count_distinct(time_entries.work_date), 1)";

    public static readonly KpiDefinition[] Kpis =
    [
        Define("TIME_TASK_COMPLETION_RATE", "Task Completion Rate",
            "Share of the tasks created in the period that are done.",
            $"100 * {Done} / count(tasks)",
            Units.Percent, HigherIsBetter, "TIME_TASKS", Chain, "tasks"),
        Define("TIME_ON_TIME_COMPLETION_RATE", "On-Time Completion Rate",
            "Share of done tasks with a deadline that were completed by it.",
            $"100 * {DoneOnTime} / count(tasks) filter (where tasks.status = 'done' and tasks.due_at is not null and tasks.completed_at is not null)",
            Units.Percent, HigherIsBetter, "TIME_TASKS", Chain, "tasks"),
        Define("TIME_TASKS_COMPLETED", "Tasks Completed",
            "Number of tasks created in the period that are done.",
            Done,
            Units.Count, HigherIsBetter, "TIME_TASKS", Chain, "tasks"),
        Define("TIME_AVG_COMPLETION_TIME", "Average Task Completion Time",
            "Average hours from a task being created to it being marked done.",
            "avg(tasks.completed_at - tasks.created_at) filter (where tasks.status = 'done' and tasks.completed_at is not null) / 3600000",
            Units.Hours, LowerIsBetter, "TIME_TASKS", Chain, "tasks"),
        Define("TIME_ESTIMATE_VARIANCE", "Estimate Variance",
            "Average of tracked minus estimated hours over done tasks with an estimate: positive means work took longer than estimated, " +
            "negative that it was overestimated; best near zero, and overruns are what the direction flags.",
            "avg(tasks.tracked_hours - tasks.estimated_hours) filter (where tasks.status = 'done' and tasks.estimated_hours is not null)",
            Units.Hours, LowerIsBetter, "TIME_TASKS", Chain, "tasks"),
        Define("TIME_ESTIMATE_VARIANCE_PCT", "Estimate Variance (relative)",
            "Tracked hours over or under the estimate as a share of estimated hours, over done tasks with an estimate.",
            "100 * (sum(tasks.tracked_hours) filter (where tasks.status = 'done' and tasks.estimated_hours is not null) - " +
            "sum(tasks.estimated_hours) filter (where tasks.status = 'done' and tasks.estimated_hours is not null)) / " +
            "sum(tasks.estimated_hours) filter (where tasks.status = 'done' and tasks.estimated_hours is not null)",
            Units.Percent, LowerIsBetter, "TIME_TASKS", Chain, "tasks"),

        Define("TIME_HOURS_TRACKED", "Hours Tracked",
            "Total hours of finished time entries started in the period.",
            HoursTracked,
            Units.Hours, HigherIsBetter, "TIME_TRACKING", Chain, "time_entries"),
        Define("TIME_AVG_SESSION_LENGTH", "Average Tracking Session",
            "Average length in hours of a finished time entry.",
            "avg(time_entries.duration_seconds) filter (where time_entries.duration_seconds is not null) / 3600",
            Units.Hours, HigherIsBetter, "TIME_TRACKING", Chain, "time_entries"),
        Define("TIME_UNLINKED_TIME_SHARE", "Time Not Linked to Tasks",
            "Share of tracked time not attributed to any task.",
            "100 * coalesce(sum(time_entries.duration_seconds) filter (where time_entries.task_id is null), 0) / sum(time_entries.duration_seconds)",
            Units.Percent, LowerIsBetter, "TIME_TRACKING", Chain, "time_entries"),

        // The time-tracking specification's score, with one adaptation: its "days in period" becomes the number of
        // distinct working days with tracked time, because a formula sees rows, not the length of the window.
        Define("TIME_PRODUCTIVITY_SCORE", "Productivity Score",
            "Score from 0 to 100: up to 20 points per completed task per working day, 30 for the on-time share of completed tasks, " +
            "30 for tracking 8 hours per working day, 20 for completing at least 5 tasks; capped at 100. Working days are the days with tracked time.",
            $"least(100, {Done} / {WorkingDays} * 20 + {DoneOnTime} / greatest({Done}, 1) * 30 + " +
            $"least({HoursTracked} / {WorkingDays} / 8, 1) * 30 + least({Done} / 5, 1) * 20)",
            Units.Score, HigherIsBetter, "TIME_PRODUCTIVITY", Chain, "tasks", "time_entries"),
    ];
}
