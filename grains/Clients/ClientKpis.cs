using AnalyticsEngine.Catalog;

namespace AnalyticsEngine.Clients;

/// <summary>Resolves a KPI code the way every path must: the client's custom KPI first, then the catalog.</summary>
public static class ClientKpis
{
    public static KpiDefinition? Find(ClientConfig? config, string code) =>
        config?.CustomKpis?.FirstOrDefault(k => string.Equals(k.Code, code, StringComparison.Ordinal))
        ?? BuiltInCatalog.FindKpi(code);
}
