using System.ComponentModel.DataAnnotations;
using AnalyticsEngine.Archive;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Gateway.Security;
using AnalyticsEngine.Proposals;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>A client's archived segments, oldest first.</summary>
public sealed record ArchiveListing(string ClientId, IReadOnlyList<ArchiveSegment> Segments);

/// <summary>
/// Archival and retention of a client's data: its retention policy at <c>/clients/{clientId}/retention</c> (the
/// retention answers of the proposal questionnaire), the archive's index at <c>GET /clients/{clientId}/archive</c>
/// and a run now at <c>POST /clients/{clientId}/archive/run</c>. Queries over archived days need nothing of the caller:
/// the engine puts their rows back first.
/// </summary>
public static class RetentionApi
{
    private const int DefaultSegmentsListed = 500;
    private const int MaxSegmentsListed = 5000;

    public static IEndpointRouteBuilder MapRetentionApi(this IEndpointRouteBuilder app)
    {
        var retention = app.MapGroup("/clients/{clientId}").WithTags("Retention").RefuseUnknownQueryParameters();

        retention.MapGet("/retention", GetAsync)
            .RequireAuthorization(Policies.Read)
            .AnswersJsonOnly<RetentionPolicy>()
            .WithName("GetRetentionPolicy")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("The client's retention policy: the answers as given and the days they come to after compliance minimums.");

        retention.MapPut("/retention", SetAsync)
            .RequireAuthorization(Policies.Administer)
            .AnswersJsonOnly<RetentionPolicy>()
            .WithName("SetRetentionPolicy")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .WithSummary("Sets the client's retention policy: how long staged source data and analytics data stay in the active "
                + "database, whether they are then archived to cold storage or deleted, and for how long archives are kept.");

        retention.MapDelete("/retention", RemoveAsync)
            .RequireAuthorization(Policies.Administer)
            .WithName("RemoveRetentionPolicy")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Removes the policy: nothing more is archived or deleted; the archive keeps what it holds.");

        retention.MapGet("/archive", ListAsync)
            .RequireAuthorization(Policies.Read)
            .AnswersJsonOnly<ArchiveListing>()
            .WithName("ListArchive")
            .AnswersQueryProblems()
            .WithSummary("The client's archived segments whose times overlap [from, to), oldest first: what each holds, its size, "
                + "checksum, when it expires and whether its rows are restored for queries.");

        retention.MapGet("/archive/{segmentId:long}", DownloadAsync)
            .RequireAuthorization(Policies.Analyze)
            .WithName("GetArchivedSegment")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .WithSummary("One archived segment's file: its rows as they left the active tables, gzip-compressed CSV with a header "
                + "(application/gzip), or the CSV itself with format=csv. Checked against its SHA-256 first.");

        retention.MapPost("/archive/run", RunAsync)
            .RequireAuthorization(Policies.Administer)
            .AnswersJsonOnly<ArchiveRun>()
            .WithName("RunArchival")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Runs the client's archival now (it runs daily while a policy is set) and says what it did.");

        return app;
    }

    private static async Task<Results<Ok<RetentionPolicy>, ProblemHttpResult>> GetAsync(string clientId, IClusterClient cluster) =>
        await cluster.GetGrain<IArchiveGrain>(clientId).GetPolicy() is { } policy
            ? TypedResults.Ok(policy)
            : await UnknownClientAsync(clientId, cluster)
                ?? Problems.NotFound($"Client '{clientId}' has no retention policy: its data stays in the active database.");

    private static async Task<Results<Ok<RetentionPolicy>, ValidationProblem, ProblemHttpResult>> SetAsync(
        string clientId, RetentionAnswers answers, HttpContext http, IClusterClient cluster)
    {
        if (await UnknownClientAsync(clientId, cluster) is { } unknown)
        {
            return unknown;
        }

        var outcome = await cluster.GetGrain<IArchiveGrain>(clientId).SetPolicy(answers, http.User.Identity?.Name ?? "");
        return outcome.Policy is { } policy ? TypedResults.Ok(policy) : Problems.Validation(outcome.Problems);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RemoveAsync(string clientId, IClusterClient cluster) =>
        await cluster.GetGrain<IArchiveGrain>(clientId).RemovePolicy()
            ? TypedResults.NoContent()
            : await UnknownClientAsync(clientId, cluster) ?? Problems.NotFound($"Client '{clientId}' has no retention policy.");

    private static async Task<Results<Ok<ArchiveRun>, ProblemHttpResult>> RunAsync(string clientId, IClusterClient cluster)
    {
        if (await UnknownClientAsync(clientId, cluster) is { } unknown)
        {
            return unknown;
        }

        var archive = cluster.GetGrain<IArchiveGrain>(clientId);
        if (await archive.GetPolicy() is null)
        {
            return TypedResults.Problem($"Client '{clientId}' has no retention policy, so there is nothing to archive; set one with PUT /clients/{clientId}/retention.",
                statusCode: StatusCodes.Status409Conflict, title: "No retention policy");
        }

        return TypedResults.Ok(await archive.RunNow());
    }

    /// <summary><c>GET /clients/{clientId}/archive?from=&amp;to=&amp;limit=</c>: every segment unless a range is given.</summary>
    private static async Task<Results<Ok<ArchiveListing>, ValidationProblem, ProblemHttpResult>> ListAsync(
        string clientId, string? from, string? to, [Range(1, MaxSegmentsListed)] int? limit, IClusterClient cluster)
    {
        var problems = new List<string>();
        var start = Instants.FromQueryString("from", from, problems) ?? DateTimeOffset.MinValue;
        var end = Instants.FromQueryString("to", to, problems) ?? DateTimeOffset.MaxValue;
        if (limit is < 1 or > MaxSegmentsListed)
        {
            problems.Add($"limit: must be between 1 and {MaxSegmentsListed}");
        }

        if (problems.Count == 0 && start >= end)
        {
            problems.Add($"to: must be after from ({from})");
        }

        if (problems.Count > 0)
        {
            return Problems.Validation(problems);
        }

        if (await UnknownClientAsync(clientId, cluster) is { } unknown)
        {
            return unknown;
        }

        var segments = await cluster.GetGrain<IArchiveGrain>(clientId).Segments(start, end, limit ?? DefaultSegmentsListed);
        return TypedResults.Ok(new ArchiveListing(clientId, segments));
    }

    /// <summary><c>GET /clients/{clientId}/archive/{segmentId}?format=csv</c>: the segment's file, or its CSV.</summary>
    private static async Task<IResult> DownloadAsync(string clientId, long segmentId, string? format, IClusterClient cluster)
    {
        if (format is not null && !string.Equals(format, "csv", StringComparison.OrdinalIgnoreCase))
        {
            return Problems.Validation([$"format: '{format}' is not csv; leave it out for the gzip file"]);
        }

        if (await UnknownClientAsync(clientId, cluster) is { } unknown)
        {
            return unknown;
        }

        var file = await cluster.GetGrain<IArchiveGrain>(clientId).ReadSegment(segmentId);
        if (file is null)
        {
            return Problems.NotFound($"Client '{clientId}' has no archived segment {segmentId}.");
        }

        if (file.Content is not { } content)
        {
            return TypedResults.Problem(file.Problem, statusCode: StatusCodes.Status413PayloadTooLarge, title: "Segment too large");
        }

        var name = $"{clientId}-{file.Segment.Source}-{file.Segment.From:yyyy-MM-dd}-{segmentId}.csv";
        return format is null
            ? TypedResults.File(content, "application/gzip", name + ".gz")
            : TypedResults.Stream(new System.IO.Compression.GZipStream(new MemoryStream(content), System.IO.Compression.CompressionMode.Decompress),
                "text/csv; charset=utf-8", name);
    }

    private static async Task<ProblemHttpResult?> UnknownClientAsync(string clientId, IClusterClient cluster) =>
        await cluster.GetGrain<IClientConfigGrain>(clientId).Get() is null ? Problems.NotFound($"Client '{clientId}' does not exist.") : null;
}
