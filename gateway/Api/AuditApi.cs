using System.Globalization;
using AnalyticsEngine.Gateway.Security;
using AnalyticsEngine.Governance;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>
/// <c>GET /audit</c>: the audit trail, newest first — every request that changed something or tried to, who made it and
/// how it ended (<see cref="AuditTrail"/>). For admins; a token that does not grant every client reads the entries
/// of the clients it grants.
/// </summary>
public static class AuditApi
{
    /// <summary>The most entries a page holds.</summary>
    public const int MaxEntriesListed = 1000;

    /// <summary>A page's size unless <c>limit</c> says otherwise (entries carry bodies of up to 16 KB).</summary>
    public const int DefaultEntriesListed = 100;

    public const int MaxActorLength = 500;

    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/audit", ListAsync)
            .WithTags("Governance")
            .WithName("ListAuditEntries")
            .RefuseUnknownQueryParameters()
            .RequireAuthorization(Policies.Administer)
            .AnswersJsonOnly<IReadOnlyList<AuditRecordView>>()
            .RespondsWithHeader(StatusCodes.Status200OK, "Link", "When more entries follow: the next page's address, rel=\"next\" (RFC 8288).");
        return app;
    }

    private static async Task<IResult> ListAsync(
        string? clientId, string? actor, string? from, string? to, int? limit, string? after, HttpContext http, IClusterClient cluster)
    {
        var problems = new List<string>();
        if (limit is < 1 or > MaxEntriesListed)
        {
            problems.Add($"limit: must be between 1 and {MaxEntriesListed}");
        }

        if (actor is not null && (actor.Length is 0 or > MaxActorLength || InputText.HasControlCharacters(actor)))
        {
            problems.Add($"actor: give a token subject of 1 to {MaxActorLength} characters, without control characters");
        }

        var start = Instants.FromQueryString("from", from, problems);
        var end = Instants.FromQueryString("to", to, problems);

        if (start >= end)
        {
            problems.Add("to: must be after from");
        }

        var parsed = after is null ? null : PageCursor.Parse(after, IsEntryId);
        if (after is not null && parsed is null)
        {
            problems.Add("after: not a cursor of this list; take the next page's address from the Link header of the one before");
        }

        var cursor = parsed is { } at ? new AuditCursor(at.At, long.Parse(at.Tiebreak, CultureInfo.InvariantCulture)) : null;

        if (problems.Count > 0)
        {
            return Problems.Validation(problems);
        }

        // A token for some clients sees the entries that name only clients it grants: one that named another client too
        // (a batch over several) would show that client's request to a reader it was not meant for.
        var grant = ClientAccess.GrantOf(http.User);
        IReadOnlyList<string>? visible = grant.All ? null : [.. grant.ClientIds];
        if (visible is { Count: 0 })
        {
            return TypedResults.Ok(Array.Empty<AuditRecordView>());
        }

        var page = await cluster.GetGrain<IAuditGrain>(0).Read(
            new AuditQuery(limit ?? DefaultEntriesListed, visible, actor, start, end, cursor, clientId));
        if (page.Next is { } next)
        {
            var query = QueryString.Create(new Dictionary<string, string?>
            {
                ["clientId"] = clientId,
                ["actor"] = actor,
                ["from"] = from,
                ["to"] = to,
                ["limit"] = limit?.ToString(CultureInfo.InvariantCulture),
                ["after"] = PageCursor.Format(next.At, next.EntryId.ToString(CultureInfo.InvariantCulture)),
            }.Where(p => p.Value is not null));
            http.Response.Headers.Link = $"<{http.Request.PathBase}/audit{query}>; rel=\"next\"";
        }

        return TypedResults.Ok(page.Entries.Select(AuditRecordView.Of).ToList());
    }

    /// <summary>An entry id as the database makes them: a positive number, without sign or leading zeros.</summary>
    private static bool IsEntryId(string text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id > 0
        && string.Equals(id.ToString(CultureInfo.InvariantCulture), text, StringComparison.Ordinal);
}

/// <summary>One audit entry as <c>GET /audit</c> lists it.</summary>
/// <param name="Actor">The token's subject.</param>
/// <param name="Action">The endpoint: method and route pattern.</param>
/// <param name="Body">The JSON body of an accepted configuration change, as sent (at most 16 KB); null otherwise.</param>
public sealed record AuditRecordView(
    long EntryId, DateTimeOffset At, string Actor, IReadOnlyList<string> Roles, IReadOnlyList<string> ClientIds, string Action, string Path,
    int Status, string? TraceId, string? Body)
{
    public static AuditRecordView Of(AuditRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var e = record.Entry;
        return new(record.EntryId, e.At, e.Actor, e.Roles, e.ClientIds, e.Action, e.Path, e.Status, e.TraceId, e.Body);
    }
}
