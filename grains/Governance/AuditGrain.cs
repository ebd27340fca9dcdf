using Orleans.Concurrency;

namespace AnalyticsEngine.Governance;

/// <summary>Appends to and reads the audit trail in any silo; it keeps no state, so calls run at once.</summary>
[StatelessWorker]
[Reentrant]
public sealed class AuditGrain(AuditStore store) : Grain, IAuditGrain
{
    public Task Record(IReadOnlyList<AuditEntry> entries) => store.AppendAsync(entries);

    public Task<AuditPage> Read(AuditQuery query) => store.ReadAsync(query);
}
