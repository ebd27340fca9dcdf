using AnalyticsEngine.Catalog;

namespace AnalyticsEngine.Clients;

/// <summary>Resolves a KPI code the way every path must: the client's custom KPI first, then the catalog.</summary>
public static class ClientKpis
{
    /// <summary>
    /// The KPI <paramref name="code"/> names, whatever its case, as the catalog reads its own ("pof" is POF). Custom
    /// codes are upper case and never a catalog code (<c>ClientConfigGrain</c> refuses others), so no two KPIs of a
    /// client differ only in case.
    /// </summary>
    public static KpiDefinition? Find(ClientConfig? config, string code) =>
        config?.CustomKpis?.FirstOrDefault(k => string.Equals(k.Code, code, StringComparison.OrdinalIgnoreCase))
        ?? BuiltInCatalog.FindKpi(code);
}
