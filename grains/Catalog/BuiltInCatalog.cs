using System.Collections.Frozen;
using AnalyticsEngine.Catalog.Packs;

namespace AnalyticsEngine.Catalog;

/// <summary>
/// The built-in KPI catalog ("the menu"): value chains, modules, object models and KPIs of the SCOR, CRM, Sales,
/// Financial, MSP and time-tracking packs. Immutable and shared; the catalog grain serves it to the gateway and the
/// formula compiler resolves object-model fields through <see cref="ObjectModelsByCode"/>.
/// </summary>
public static class BuiltInCatalog
{
    private sealed record Pack(
        ValueChainDefinition ValueChain, ModuleDefinition[] Modules, ObjectModelDefinition[] ObjectModels, KpiDefinition[] Kpis);

    // Every pack, in menu order: the lists below and the value chain of each object model all come from here.
    private static readonly Pack[] Packs =
    [
        new(ScorPack.ValueChain, ScorPack.Modules, ScorPack.ObjectModels, ScorPack.Kpis),
        new(CrmPack.ValueChain, CrmPack.Modules, CrmPack.ObjectModels, CrmPack.Kpis),
        new(SalesPack.ValueChain, SalesPack.Modules, SalesPack.ObjectModels, SalesPack.Kpis),
        new(FinancialPack.ValueChain, FinancialPack.Modules, FinancialPack.ObjectModels, FinancialPack.Kpis),
        new(MspPack.ValueChain, MspPack.Modules, MspPack.ObjectModels, MspPack.Kpis),
        new(TimeTrackingPack.ValueChain, TimeTrackingPack.Modules, TimeTrackingPack.ObjectModels, TimeTrackingPack.Kpis),
    ];

    /// <summary>Value chains in menu order.</summary>
    public static IReadOnlyList<ValueChainDefinition> ValueChains { get; } = [.. Packs.Select(p => p.ValueChain)];

    /// <summary>Modules in menu order, grouped by value chain.</summary>
    public static IReadOnlyList<ModuleDefinition> Modules { get; } = [.. Packs.SelectMany(p => p.Modules)];

    /// <summary>Object models in menu order, grouped by domain.</summary>
    public static IReadOnlyList<ObjectModelDefinition> ObjectModels { get; } = [.. Packs.SelectMany(p => p.ObjectModels)];

    /// <summary>KPIs in menu order, grouped by value chain and module.</summary>
    public static IReadOnlyList<KpiDefinition> Kpis { get; } = [.. Packs.SelectMany(p => p.Kpis)];

    /// <summary>Object models by their code, exactly as formulas spell it (case-sensitive).</summary>
    public static IReadOnlyDictionary<string, ObjectModelDefinition> ObjectModelsByCode { get; } =
        ObjectModels.ToFrozenDictionary(o => o.Code, StringComparer.Ordinal);

    // Codes typed into URLs are matched without regard to case: "/kpis/pof" finds POF.
    private static readonly FrozenDictionary<string, KpiDefinition> KpisByCode =
        Kpis.ToFrozenDictionary(k => k.Code, StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenDictionary<string, ModuleDefinition> ModulesByCode =
        Modules.ToFrozenDictionary(m => m.Code, StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenDictionary<string, ObjectModelDefinition> ObjectModelsByCodeIgnoringCase =
        ObjectModels.ToFrozenDictionary(o => o.Code, StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenDictionary<string, ValueChainDefinition> ValueChainsByCode =
        ValueChains.ToFrozenDictionary(v => v.Code, StringComparer.OrdinalIgnoreCase);

    // Each pack's object models belong to its value chain: a custom KPI over them is licensed under that chain.
    private static readonly FrozenDictionary<string, string> ValueChainByObjectModel = Packs
        .SelectMany(pack => pack.ObjectModels.Select(model => (model.Code, Chain: pack.ValueChain.Code)))
        .ToFrozenDictionary(p => p.Code, p => p.Chain, StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, KpiDefinition[]> KpisByModule =
        Modules.ToFrozenDictionary(
            m => m.Code,
            m => Kpis.Where(k => string.Equals(k.Module, m.Code, StringComparison.Ordinal)).ToArray(),
            StringComparer.OrdinalIgnoreCase);

    /// <summary>The built-in KPI with this code (case-insensitive), or null.</summary>
    public static KpiDefinition? FindKpi(string code) => KpisByCode.GetValueOrDefault(code);

    /// <summary>The module with this code (case-insensitive), or null.</summary>
    public static ModuleDefinition? FindModule(string code) => ModulesByCode.GetValueOrDefault(code);

    /// <summary>The object model with this code (case-insensitive), or null.</summary>
    public static ObjectModelDefinition? FindObjectModel(string code) => ObjectModelsByCodeIgnoringCase.GetValueOrDefault(code);

    /// <summary>The value chain with this code (case-insensitive), or null.</summary>
    public static ValueChainDefinition? FindValueChain(string code) => ValueChainsByCode.GetValueOrDefault(code);

    /// <summary>The code of the value chain whose pack defines the object model <paramref name="objectModelCode"/> (exact code).</summary>
    public static string ValueChainOfObjectModel(string objectModelCode) => ValueChainByObjectModel[objectModelCode];

    /// <summary>The KPIs of a module (case-insensitive code), or null when there is no such module.</summary>
    public static IReadOnlyList<KpiDefinition>? FindKpisByModule(string moduleCode) => KpisByModule.GetValueOrDefault(moduleCode);
}
