using Orleans.Concurrency;

namespace AnalyticsEngine.Catalog;

/// <summary>
/// Serves the built-in catalog. The catalog is immutable and in every silo's memory, so a stateless worker
/// answers locally wherever it is called from, with no single activation to queue behind.
/// </summary>
[StatelessWorker]
internal sealed class CatalogGrain : Grain, ICatalogGrain
{
    public Task<IReadOnlyList<KpiDefinition>> GetKpis() => Task.FromResult(BuiltInCatalog.Kpis);

    public Task<KpiDefinition?> GetKpi(string code) => Task.FromResult(BuiltInCatalog.FindKpi(code));

    public Task<IReadOnlyList<KpiDefinition>?> GetKpisByModule(string moduleCode) =>
        Task.FromResult(BuiltInCatalog.FindKpisByModule(moduleCode));

    public Task<IReadOnlyList<ObjectModelDefinition>> GetObjectModels() => Task.FromResult(BuiltInCatalog.ObjectModels);

    public Task<ObjectModelDefinition?> GetObjectModel(string code) => Task.FromResult(BuiltInCatalog.FindObjectModel(code));

    public Task<IReadOnlyList<ModuleDefinition>> GetModules() => Task.FromResult(BuiltInCatalog.Modules);

    public Task<IReadOnlyList<ValueChainDefinition>> GetValueChains() => Task.FromResult(BuiltInCatalog.ValueChains);
}
