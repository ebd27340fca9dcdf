using AnalyticsEngine.Catalog;
using AnalyticsEngine.Kpi.Formula;

namespace AnalyticsEngine.Query;

/// <summary>
/// KPI statements compiled against the catalog's object models, kept for the next query of the same shape: the
/// statement of a formula depends on its drill-down, on which of its object models rollups answer (and whether their
/// rows after the watermark are read too), on whether the range has edges read raw, on the slot length raw rows are
/// grouped by and on the row limit, never on the range itself (<see cref="RangeParameter"/>). Compiling was the
/// largest part of the silo's own work on a one-day query from rollups.
/// </summary>
/// <remarks>
/// Keyed by the formula's text, so a custom KPI whose formula changes is compiled afresh. Bounded: emptied when it
/// holds <see cref="MaxKept"/> statements (a catalog's and its clients' custom KPIs are far fewer, times a few shapes).
/// </remarks>
internal static class QueryStatements
{
    internal const int MaxKept = 1000;

    private static readonly BoundedKeep<Shape, KpiSqlPlan> Kept = new(MaxKept);

    /// <summary>How many statements are kept now.</summary>
    internal static int Count => Kept.Count;

    /// <summary><see cref="KpiSqlCompiler.Compile"/> over the catalog's object models, or the statement kept for the same shape.</summary>
    public static KpiSqlPlan Compile(CompiledFormula formula, string? dimension, RollupSource? rollups, int? rawSlotMinutes, int? rowLimit)
    {
        var models = BuiltInCatalog.ObjectModelsByCode;
        if (formula.ObjectModels.Count > 64)
        {
            return KpiSqlCompiler.Compile(formula, models, dimension, rollups, rawSlotMinutes, rowLimit);
        }

        var (fromRollups, afterWatermark) = (0UL, 0UL);
        for (var k = 0; k < formula.ObjectModels.Count; k++)
        {
            if (rollups is not null && rollups.Covers(formula, models[formula.ObjectModels[k]], dimension))
            {
                fromRollups |= 1UL << k;
                afterWatermark |= rollups.ReadsAfterWatermark(formula.ObjectModels[k]) ? 1UL << k : 0;
            }
        }

        var shape = new Shape(
            formula.Source, dimension, fromRollups, afterWatermark, fromRollups != 0 && rollups!.Ranges.Raw.Count > 0, rawSlotMinutes, rowLimit);
        return Kept.GetOrAdd(
            shape,
            static (_, query) => KpiSqlCompiler.Compile(query.formula, BuiltInCatalog.ObjectModelsByCode, query.dimension, query.rollups, query.rawSlotMinutes, query.rowLimit),
            (formula, dimension, rollups, rawSlotMinutes, rowLimit));
    }

    /// <param name="FromRollups">One bit per object model of the formula (in its order): read from rollups.</param>
    /// <param name="AfterWatermark">One bit per object model read from rollups: its rows after the watermark are read too.</param>
    /// <param name="ReadsEdges">Whether the statement reads the range's edges from raw rows besides the rollups' slots.</param>
    private readonly record struct Shape(
        string Formula, string? Dimension, ulong FromRollups, ulong AfterWatermark, bool ReadsEdges, int? RawSlotMinutes, int? RowLimit);
}
