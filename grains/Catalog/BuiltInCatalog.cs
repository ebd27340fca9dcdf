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
    /// <summary>Value chains in menu order.</summary>
    public static IReadOnlyList<ValueChainDefinition> ValueChains { get; } =
    [
        ScorPack.ValueChain,
        CrmPack.ValueChain,
        SalesPack.ValueChain,
        FinancialPack.ValueChain,
        MspPack.ValueChain,
        TimeTrackingPack.ValueChain,
    ];

    /// <summary>Modules in menu order, grouped by value chain.</summary>
    public static IReadOnlyList<ModuleDefinition> Modules { get; } =
    [
        .. ScorPack.Modules,
        .. CrmPack.Modules,
        .. SalesPack.Modules,
        .. FinancialPack.Modules,
        .. MspPack.Modules,
        .. TimeTrackingPack.Modules,
    ];

    /// <summary>Object models in menu order, grouped by domain.</summary>
    public static IReadOnlyList<ObjectModelDefinition> ObjectModels { get; } =
    [
        .. ScorPack.ObjectModels,
        .. CrmPack.ObjectModels,
        .. SalesPack.ObjectModels,
        .. FinancialPack.ObjectModels,
        .. MspPack.ObjectModels,
        .. TimeTrackingPack.ObjectModels,
    ];

    /// <summary>KPIs in menu order, grouped by value chain and module.</summary>
    public static IReadOnlyList<KpiDefinition> Kpis { get; } =
    [
        .. ScorPack.Kpis,
        .. CrmPack.Kpis,
        .. SalesPack.Kpis,
        .. FinancialPack.Kpis,
        .. MspPack.Kpis,
        .. TimeTrackingPack.Kpis,
    ];

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

    /// <summary>The KPIs of a module (case-insensitive code), or null when there is no such module.</summary>
    public static IReadOnlyList<KpiDefinition>? FindKpisByModule(string moduleCode) => KpisByModule.GetValueOrDefault(moduleCode);
}
