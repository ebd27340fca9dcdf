namespace AnalyticsEngine.Catalog;

/// <summary>
/// Read access to the KPI catalog ("the menu"): KPIs, object models, modules and value chains.
/// Use key 0; the grain is a stateless worker, so calls are served in the caller's silo.
/// </summary>
[Alias("ae.ICatalogGrain")]
public interface ICatalogGrain : IGrainWithIntegerKey
{
    /// <summary>Every built-in KPI, grouped by value chain and module.</summary>
    [Alias("GetKpis")]
    Task<IReadOnlyList<KpiDefinition>> GetKpis();

    /// <summary>The KPI with this code (case-insensitive), or null when the catalog has none.</summary>
    [Alias("GetKpi")]
    Task<KpiDefinition?> GetKpi(string code);

    /// <summary>The KPIs of a module (case-insensitive code); null when there is no such module.</summary>
    [Alias("GetKpisByModule")]
    Task<IReadOnlyList<KpiDefinition>?> GetKpisByModule(string moduleCode);

    /// <summary>Every object model, grouped by domain.</summary>
    [Alias("GetObjectModels")]
    Task<IReadOnlyList<ObjectModelDefinition>> GetObjectModels();

    /// <summary>The object model with this code (case-insensitive), or null when the catalog has none.</summary>
    [Alias("GetObjectModel")]
    Task<ObjectModelDefinition?> GetObjectModel(string code);

    /// <summary>Every module, grouped by value chain.</summary>
    [Alias("GetModules")]
    Task<IReadOnlyList<ModuleDefinition>> GetModules();

    /// <summary>Every value chain.</summary>
    [Alias("GetValueChains")]
    Task<IReadOnlyList<ValueChainDefinition>> GetValueChains();
}
