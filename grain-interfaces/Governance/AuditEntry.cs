namespace AnalyticsEngine.Governance;

/// <summary>
/// One request that changed something, or tried to: who (the token's subject and roles), when, on which clients, what
/// (the endpoint and the request's path), how it ended (the HTTP status), and for a configuration change the body sent.
/// </summary>
/// <param name="Actor">The token's subject.</param>
/// <param name="ClientIds">The clients the request named (in its path, query or body), as its access check read them.</param>
/// <param name="Action">The endpoint: method and route pattern, e.g. <c>PUT /clients/{clientId}</c>.</param>
/// <param name="Path">The request's path and query string.</param>
/// <param name="Body">The JSON body of an accepted configuration change (at most 16 KB); null otherwise.</param>
[GenerateSerializer, Immutable, Alias("ae.AuditEntry")]
public sealed record AuditEntry(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] string Actor,
    [property: Id(2)] IReadOnlyList<string> Roles,
    [property: Id(3)] IReadOnlyList<string> ClientIds,
    [property: Id(4)] string Action,
    [property: Id(5)] string Path,
    [property: Id(6)] int Status,
    [property: Id(7)] string? TraceId,
    [property: Id(8)] string? Body);

/// <summary>An audit entry as stored, with its id.</summary>
[GenerateSerializer, Immutable, Alias("ae.AuditRecord")]
public sealed record AuditRecord(
    [property: Id(0)] long EntryId,
    [property: Id(1)] AuditEntry Entry);

/// <summary>
/// Which audit entries to read, newest first: those naming <see cref="ClientId"/> (any when null), of an actor, within
/// [From, To), after <see cref="After"/>, among those the reader may see: with <see cref="Visible"/>, only entries that
/// name clients and no client outside it (null: every entry).
/// </summary>
[GenerateSerializer, Immutable, Alias("ae.AuditQuery")]
public sealed record AuditQuery(
    [property: Id(0)] int Limit,
    [property: Id(1)] IReadOnlyList<string>? Visible = null,
    [property: Id(2)] string? Actor = null,
    [property: Id(3)] DateTimeOffset? From = null,
    [property: Id(4)] DateTimeOffset? To = null,
    [property: Id(5)] AuditCursor? After = null,
    [property: Id(6)] string? ClientId = null);

/// <summary>Where a page of the audit trail ends: the last entry's time as stored (to the microsecond) and its id.</summary>
[GenerateSerializer, Immutable, Alias("ae.AuditCursor")]
public sealed record AuditCursor(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] long EntryId);

/// <summary>A page of audit entries, newest first (by the time each request came, then by id); <see cref="Next"/> when more follow.</summary>
[GenerateSerializer, Immutable, Alias("ae.AuditPage")]
public sealed record AuditPage(
    [property: Id(0)] IReadOnlyList<AuditRecord> Entries,
    [property: Id(1)] AuditCursor? Next);

/// <summary>The audit trail: who did what, kept in PostgreSQL (stateless; any silo serves it).</summary>
[Alias("ae.IAuditGrain")]
public interface IAuditGrain : IGrainWithIntegerKey
{
    /// <summary>Appends the entries, in order, in one transaction.</summary>
    [Alias("Record")]
    Task Record(IReadOnlyList<AuditEntry> entries);

    [Alias("Read")]
    Task<AuditPage> Read(AuditQuery query);
}
