using Orleans.Concurrency;

namespace AnalyticsEngine.Governance;

/// <summary>Appends to and reads the audit trail in any silo; it keeps no state, so calls run at once.</summary>
[StatelessWorker]
[Reentrant]
public sealed class AuditGrain(AuditStore store) : Grain, IAuditGrain
{
    public Task Record(AuditEntry entry) => store.AppendAsync(entry);

    public Task<AuditPage> Read(AuditQuery query) => store.ReadAsync(query);
}
