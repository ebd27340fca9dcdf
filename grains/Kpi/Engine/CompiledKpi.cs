using AnalyticsEngine.Catalog;
using AnalyticsEngine.Kpi.Formula;

namespace AnalyticsEngine.Kpi.Engine;

/// <summary>A KPI bound to the engine: its formula and, per aggregate, the shared term that computes it.</summary>
internal sealed class CompiledKpi(KpiDefinition definition, string timeZone, CompiledFormula formula, EngineTerm[] terms, ObjectRuntime[] objects)
{
    public string Code => Definition.Code;

    public KpiDefinition Definition { get; } = definition;

    /// <summary>What its series' values mean: the formula and the zone (<see cref="KpiDefinitionVersion"/>).</summary>
    public string DefinitionVersion { get; } = KpiDefinitionVersion.Of(definition.Formula, timeZone);

    public CompiledFormula Formula { get; } = formula;

    /// <summary>Parallel to <see cref="CompiledFormula.Aggregates"/>.</summary>
    public EngineTerm[] Terms { get; } = terms;

    public ObjectRuntime[] Objects { get; } = objects;

    public ulong ObjectMask { get; } = objects.Aggregate(0UL, (mask, o) => mask | o.Bit);

    public bool ReadsSnapshots { get; } = objects.Any(o => o.Kind == ObjectKind.Snapshot);
}
