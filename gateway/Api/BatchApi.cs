using System.ComponentModel.DataAnnotations;
using System.Globalization;
using AnalyticsEngine.Batch;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Gateway.Security;
using AnalyticsEngine.Query;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>
/// <c>POST /batch/schedule</c>: a job that computes KPIs of one client on a schedule in the client's time zone.
/// </summary>
/// <param name="KpiCodes">The KPIs to compute; leave out and set <paramref name="Dashboard"/> for the client's selected KPIs.</param>
/// <param name="Range">Which complete periods before each run it covers; default: the previous hour, day or week, by frequency.</param>
/// <param name="Granularity">minute, hour, day, week, month or range (default: range, one value per KPI).</param>
/// <remarks>The parameters with a default are optional (<c>kpiCodes</c> or <c>dashboard</c>, one of them); the OpenAPI document marks the others required.</remarks>
public sealed record BatchScheduleRequest(
    string? ClientId,
    BatchScheduleSpec? Schedule,
    string? Name = null,
    IReadOnlyList<string?>? KpiCodes = null,
    bool? Dashboard = null,
    BatchRangeRequest? Range = null,
    string? Granularity = null,
    string? Dimension = null) : IClientScoped;

/// <summary>The <paramref name="Count"/> complete <paramref name="Unit"/>s (hour, day, week, month) before each run.</summary>
public sealed record BatchRangeRequest(string? Unit, [property: Range(1, BatchRange.MaxHours)] int? Count);

/// <summary>
/// hourly (at <paramref name="Minute"/> past each hour), daily (at <paramref name="Time"/>, <c>HH:mm</c>) or weekly (on
/// <paramref name="DayOfWeek"/> at <paramref name="Time"/>), on the client's local clock.
/// </summary>
public sealed record BatchScheduleSpec(string? Frequency, string? Time, [property: Range(0, 59)] int? Minute, string? DayOfWeek);

/// <summary>A job as the API shows it, with where to find its runs.</summary>
public sealed record BatchJobView(
    string JobId,
    string Url,
    string RunsUrl,
    BatchJobDefinition Definition,
    BatchJobStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset? NextRunAt,
    BatchRunView? LastRun);

/// <summary>A run, with the URLs of its results (JSON and CSV).</summary>
public sealed record BatchRunView(
    string JobId,
    long RunId,
    BatchRunTrigger Trigger,
    BatchRunStatus Status,
    DateTimeOffset ScheduledFor,
    DateTimeOffset From,
    DateTimeOffset To,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    string? Error,
    string ResultsUrl,
    string CsvUrl);

/// <summary>A run and its results: one <see cref="KpiQueryResult"/> per KPI, as <c>POST /calculate</c> answers.</summary>
public sealed record BatchRunResultView(string ClientId, BatchRunView Run, IReadOnlyList<KpiQueryResult> Results);

/// <summary>
/// Scheduled batches (mode 3): hourly, daily or weekly jobs on Orleans reminders; their runs' results stay readable
/// as JSON or CSV. Analysts schedule, run and unschedule; viewers read. A job belongs to one client, and a token
/// that does not grant that client gets 403 on it.
/// </summary>
public static class BatchApi
{
    private const int MaxNameLength = 200;

    /// <summary>The most jobs a page of <c>GET /batch/jobs</c> holds, and its size unless <c>limit</c> says less (silos may cap it lower: <c>Batch:MaxListed</c>).</summary>
    private const int MaxJobsListed = 1000;

    /// <summary>The most runs a page of <c>GET /batch/jobs/{jobId}/runs</c> holds.</summary>
    private const int MaxRunsListed = 1000;

    public static IEndpointRouteBuilder MapBatchApi(this IEndpointRouteBuilder app)
    {
        var batch = app.MapGroup("/batch").WithTags("Scheduled batches").RefuseUnknownQueryParameters();
        batch.MapPost("/schedule", ScheduleAsync).RequireAuthorization(Policies.Analyze).WithName("ScheduleBatch")
            .Produces<BatchJobView>(StatusCodes.Status201Created).ProducesValidationProblem().ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        batch.MapGet("/jobs", ListAsync).AnswersJsonOnly<IReadOnlyList<BatchJobView>>().ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(Policies.Read).WithName("ListBatchJobs")
            .RespondsWithHeader(StatusCodes.Status200OK, "Link", "When more jobs follow: the next page's address, rel=\"next\" (RFC 8288).");
        batch.MapGet("/jobs/{jobId}", GetAsync).AnswersJsonOnly<BatchJobView>().ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(Policies.Read).WithName("GetBatchJob");
        batch.MapDelete("/jobs/{jobId}", UnscheduleAsync).Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(Policies.Analyze).WithName("UnscheduleBatchJob");
        batch.MapPost("/jobs/{jobId}/run", RunAsync).Produces<BatchRunView>(StatusCodes.Status202Accepted).ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict).RequireAuthorization(Policies.Analyze).WithName("RunBatchJob");
        batch.MapGet("/jobs/{jobId}/runs", ListRunsAsync).AnswersJsonOnly<IReadOnlyList<BatchRunView>>().ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(Policies.Read).WithName("ListBatchRuns");
        batch.MapGet("/jobs/{jobId}/runs/{runId}", GetRunAsync).AnswersJsonOrCsv<BatchRunResultView>().ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(Policies.Read).WithName("GetBatchRun");
        return app;
    }

    private static async Task<IResult> ScheduleAsync(BatchScheduleRequest request, IClusterClient cluster)
    {
        if (Validate(request, out var definition) is { } invalid)
        {
            return invalid;
        }

        var jobId = JobIds.New();
        var scheduled = await cluster.GetGrain<IBatchJobGrain>(jobId).Schedule(definition!);
        if (scheduled.Job is not { } job)
        {
            return Problems.Validation(scheduled.Problems.Select(p => $"{p.Field}: {p.Message}"));
        }

        var view = View(job);
        return TypedResults.Created(view.Url, view);
    }

    private static async Task<IResult> ListAsync(string? clientId, [Range(1, MaxJobsListed)] int? limit, string? after, HttpContext http, IClusterClient cluster)
    {
        if (limit is < 1 or > MaxJobsListed)
        {
            return Problems.Validation([$"limit: must be between 1 and {MaxJobsListed}"]);
        }

        BatchJobCursor? cursor = null;
        if (after is not null && (cursor = JobCursor.Parse(after)) is null)
        {
            return Problems.Validation(["after: not a cursor of this list; take the next page's address from the Link header of the one before"]);
        }

        var grant = ClientAccess.GrantOf(http.User);
        IReadOnlyList<string>? clients = clientId is not null ? [clientId] : grant.All ? null : [.. grant.ClientIds];
        if (clients is { Count: 0 })
        {
            return TypedResults.Ok(Array.Empty<BatchJobView>());
        }

        // A misspelt client would otherwise look like a client without jobs.
        if (clientId is not null && await cluster.GetGrain<IClientConfigGrain>(clientId).Get() is null)
        {
            return Problems.NotFound($"Client '{clientId}' does not exist.");
        }

        var page = await cluster.GetGrain<IBatchJobDirectoryGrain>(0).List(clients, limit ?? MaxJobsListed, cursor);
        if (page.Next is { } next)
        {
            // RFC 8288: the next page's address, relative to this one's; the body stays a plain array of jobs.
            var query = QueryString.Create(new Dictionary<string, string?>
            {
                ["clientId"] = clientId,
                ["limit"] = limit?.ToString(CultureInfo.InvariantCulture),
                ["after"] = JobCursor.Format(next),
            }.Where(p => p.Value is not null));
            http.Response.Headers.Link = $"<{http.Request.PathBase}/batch/jobs{query}>; rel=\"next\"";
        }

        return TypedResults.Ok(page.Jobs.Select(View).ToList());
    }

    private static async Task<IResult> GetAsync(string jobId, HttpContext http, IClusterClient cluster)
    {
        var (job, problem) = await FindAsync(jobId, http, cluster);
        return problem ?? TypedResults.Ok(View(job!));
    }

    private static async Task<IResult> UnscheduleAsync(string jobId, HttpContext http, IClusterClient cluster)
    {
        var (_, problem) = await FindAsync(jobId, http, cluster);
        if (problem is not null)
        {
            return problem;
        }

        await cluster.GetGrain<IBatchJobGrain>(jobId).Unschedule();
        return TypedResults.NoContent();
    }

    private static async Task<IResult> RunAsync(string jobId, HttpContext http, IClusterClient cluster)
    {
        var (_, problem) = await FindAsync(jobId, http, cluster);
        if (problem is not null)
        {
            return problem;
        }

        var started = await cluster.GetGrain<IBatchJobGrain>(jobId).RunNow();
        return started.Outcome switch
        {
            BatchRunStart.Started => TypedResults.Accepted(ResultsUrl(jobId, started.Run!.RunId), View(started.Run)),
            BatchRunStart.AlreadyRunning => TypedResults.Problem(
                $"Run {started.Run?.RunId} of job '{jobId}' is still going; try again when it has finished.",
                statusCode: StatusCodes.Status409Conflict, title: "A run is in progress"),
            BatchRunStart.Unscheduled => TypedResults.Problem(
                $"Job '{jobId}' is unscheduled; schedule a new job to run it again.", statusCode: StatusCodes.Status409Conflict, title: "Job unscheduled"),
            _ => Problems.NotFound($"Job '{jobId}' does not exist."),
        };
    }

    private static async Task<IResult> ListRunsAsync(string jobId, [Range(1, MaxRunsListed)] int? limit, HttpContext http, IClusterClient cluster)
    {
        if (limit is < 1 or > MaxRunsListed)
        {
            return Problems.Validation([$"limit: must be between 1 and {MaxRunsListed}"]);
        }

        var (_, problem) = await FindAsync(jobId, http, cluster);
        if (problem is not null)
        {
            return problem;
        }

        var runs = await cluster.GetGrain<IBatchJobDirectoryGrain>(0).ListRuns(jobId, limit ?? 50);
        return TypedResults.Ok(runs.Select(View).ToList());
    }

    private static async Task<IResult> GetRunAsync(string jobId, [Range(typeof(long), "1", "9223372036854775807")] long runId, HttpContext http, IClusterClient cluster)
    {
        var (_, problem) = await FindAsync(jobId, http, cluster);
        if (problem is not null)
        {
            return problem;
        }

        if (await cluster.GetGrain<IBatchJobDirectoryGrain>(0).GetRun(jobId, runId) is not { } run)
        {
            return Problems.NotFound($"Job '{jobId}' has no run {runId}.");
        }

        return KpiResults.Answer(http, new BatchRunResultView(run.ClientId, View(run.Summary), run.Results), run.Results);
    }

    /// <summary>The job, or the answer for a caller who may not see it: 404 for no such job, 403 for another client's.</summary>
    private static async Task<(BatchJobInfo? Job, IResult? Problem)> FindAsync(string jobId, HttpContext http, IClusterClient cluster)
    {
        // Job ids are generated here; anything else never reaches a grain.
        if (!JobIds.IsJobId(jobId))
        {
            return (null, Problems.NotFound("No job has this id (job ids are 32 lowercase hexadecimal digits)."));
        }

        if (await cluster.GetGrain<IBatchJobGrain>(jobId).GetInfo() is not { } job)
        {
            return (null, Problems.NotFound($"Job '{jobId}' does not exist."));
        }

        // A request about a job by its id is about the job's client: the audit trail names it.
        http.Items[AuditTrail.ClientIdsItem] = new[] { job.Definition.ClientId };
        return ClientAccess.CanAccess(http.User, job.Definition.ClientId)
            ? (job, null)
            : (null, TypedResults.Problem(ClientAccess.DeniedMessage(job.Definition.ClientId), statusCode: StatusCodes.Status403Forbidden, title: "Forbidden"));
    }

    /// <summary>Checks the request's shape; the job grain checks the rest (client, KPIs, dimension, limits) and names the field too.</summary>
    private static IResult? Validate(BatchScheduleRequest request, out BatchJobDefinition? definition)
    {
        definition = null;
        var problems = InputText.Problems(("name", request.Name), ("dimension", request.Dimension));
        if (request.Dimension is { } dimension && string.IsNullOrWhiteSpace(dimension))
        {
            problems.Add(CalculateApi.NoEmptyDimension);
        }

        if (string.IsNullOrWhiteSpace(request.ClientId))
        {
            problems.Add("clientId: is required");
        }

        if (request.Name is { Length: > MaxNameLength })
        {
            problems.Add($"name: must be at most {MaxNameLength} characters");
        }

        var dashboard = request.Dashboard ?? false;
        var codes = request.KpiCodes ?? [];
        if (dashboard && codes.Count > 0)
        {
            problems.Add("kpiCodes: leave out when dashboard is true (the job then computes the client's selected KPIs)");
        }
        else if (!dashboard && codes.Count == 0)
        {
            problems.Add("kpiCodes: name at least one KPI, or set dashboard to true");
        }

        if (codes.Any(c => string.IsNullOrWhiteSpace(c) || InputText.HasControlCharacters(c)))
        {
            problems.Add("kpiCodes: must not hold empty codes or control characters");
        }

        // A code given twice would be computed and stored twice in every run; the catalog reads codes whatever their
        // case, so POF and pof are the same KPI.
        foreach (var repeated in codes.Where(c => !string.IsNullOrWhiteSpace(c)).GroupBy(c => c!.Trim(), StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
        {
            problems.Add($"kpiCodes: '{repeated.Key}' appears more than once");
        }

        var granularity = QueryGranularity.Range;
        if (request.Granularity is not null && !CalculateApi.TryParseGranularity(request.Granularity, out granularity))
        {
            problems.Add($"granularity: '{request.Granularity}' is not one of {CalculateApi.GranularityNames}");
        }

        var schedule = ParseSchedule(request.Schedule, problems);
        var range = ParseRange(request.Range, schedule?.Frequency, problems);
        if (problems.Count > 0)
        {
            return Problems.Validation(problems);
        }

        definition = new BatchJobDefinition(
            request.ClientId!,
            dashboard ? [] : [.. codes.Select(c => c!.Trim())],
            dashboard,
            range!,
            granularity,
            string.IsNullOrWhiteSpace(request.Dimension) ? null : request.Dimension.Trim(),
            schedule!,
            string.IsNullOrWhiteSpace(request.Name) ? null : request.Name.Trim());
        return null;
    }

    /// <summary>
    /// The day names a weekly job takes. Enum.TryParse would also read "Monday, Friday" as flags (Friday) and "3" as
    /// Wednesday; a job runs on one day, named.
    /// </summary>
    private static readonly Dictionary<string, DayOfWeek> DaysOfWeek = Enum.GetValues<DayOfWeek>()
        .ToDictionary(d => d.ToString(), StringComparer.OrdinalIgnoreCase);

    private static BatchSchedule? ParseSchedule(BatchScheduleSpec? spec, List<string> problems)
    {
        if (spec is null)
        {
            problems.Add("schedule: is required, e.g. { \"frequency\": \"daily\", \"time\": \"02:00\" }");
            return null;
        }

        BatchFrequency frequency;
        switch (spec.Frequency?.ToLowerInvariant())
        {
            case "hourly": frequency = BatchFrequency.Hourly; break;
            case "daily": frequency = BatchFrequency.Daily; break;
            case "weekly": frequency = BatchFrequency.Weekly; break;
            default:
                problems.Add(spec.Frequency is null
                    ? "schedule.frequency: is required: 'hourly', 'daily' or 'weekly'"
                    : $"schedule.frequency: '{spec.Frequency}' is not one of 'hourly', 'daily', 'weekly'");
                return null;
        }

        var count = problems.Count;
        var time = new TimeOnly(0, 0);
        if (frequency == BatchFrequency.Hourly)
        {
            if (spec.Time is not null)
            {
                problems.Add("schedule.time: an hourly job runs at a minute past every hour; give schedule.minute instead");
            }

            if (spec.Minute is < 0 or > 59)
            {
                problems.Add($"schedule.minute: {spec.Minute} is not between 0 and 59");
            }
        }
        else
        {
            if (spec.Minute is not null)
            {
                problems.Add("schedule.minute: only for hourly jobs; give schedule.time (HH:mm) instead");
            }

            if (spec.Time is not null && !TimeOnly.TryParseExact(spec.Time, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out time))
            {
                problems.Add($"schedule.time: '{spec.Time}' is not a local time of day as HH:mm (00:00 to 23:59)");
            }
        }

        var day = DayOfWeek.Monday;
        if (spec.DayOfWeek is not null)
        {
            if (frequency != BatchFrequency.Weekly)
            {
                problems.Add("schedule.dayOfWeek: only for weekly jobs");
            }
            else if (!DaysOfWeek.TryGetValue(spec.DayOfWeek.Trim(), out day))
            {
                problems.Add($"schedule.dayOfWeek: '{spec.DayOfWeek}' is not a day of the week (monday ... sunday)");
            }
        }

        return problems.Count > count ? null : frequency == BatchFrequency.Hourly
            ? new BatchSchedule(frequency, 0, spec.Minute ?? 0, day)
            : new BatchSchedule(frequency, time.Hour, time.Minute, day);
    }

    private static BatchRange? ParseRange(BatchRangeRequest? spec, BatchFrequency? frequency, List<string> problems)
    {
        if (spec is null)
        {
            // The period the schedule closes: an hourly job reports the previous hour, daily the previous day, weekly the previous week.
            return frequency switch
            {
                BatchFrequency.Hourly => new BatchRange(BatchRangeUnit.Hour, 1),
                BatchFrequency.Daily => new BatchRange(BatchRangeUnit.Day, 1),
                BatchFrequency.Weekly => new BatchRange(BatchRangeUnit.Week, 1),
                _ => null,
            };
        }

        BatchRangeUnit unit;
        switch (spec.Unit?.ToLowerInvariant())
        {
            case "hour": unit = BatchRangeUnit.Hour; break;
            case "day": unit = BatchRangeUnit.Day; break;
            case "week": unit = BatchRangeUnit.Week; break;
            case "month": unit = BatchRangeUnit.Month; break;
            default:
                problems.Add(spec.Unit is null
                    ? "range.unit: is required: 'hour', 'day', 'week' or 'month'"
                    : $"range.unit: '{spec.Unit}' is not one of 'hour', 'day', 'week', 'month'");
                return null;
        }

        if (spec.Count is < 1)
        {
            problems.Add($"range.count: must be at least 1 (the number of complete {spec.Unit}s before each run); it is {spec.Count}");
            return null;
        }

        return new BatchRange(unit, spec.Count ?? 1);
    }

    private static string JobUrl(string jobId) => $"/batch/jobs/{jobId}";

    private static string ResultsUrl(string jobId, long runId) => $"/batch/jobs/{jobId}/runs/{runId.ToString(CultureInfo.InvariantCulture)}";

    private static BatchJobView View(BatchJobInfo job) => new(
        job.JobId, JobUrl(job.JobId), JobUrl(job.JobId) + "/runs", job.Definition, job.Status, job.CreatedAt, job.NextRunAt,
        job.LastRun is null ? null : View(job.LastRun));

    private static BatchRunView View(BatchRunSummary run) => new(
        run.JobId, run.RunId, run.Trigger, run.Status, run.ScheduledFor, run.From, run.To, run.StartedAt, run.FinishedAt, run.Error,
        ResultsUrl(run.JobId, run.RunId), ResultsUrl(run.JobId, run.RunId) + "?format=csv");
}
