using AnalyticsEngine.Catalog;
using AnalyticsEngine.Kpi.Formula;

namespace AnalyticsEngine.Query;

/// <summary>
/// KPI formulas compiled against the catalog's object models, kept for the next query of the same formula: compiling
/// is pure, and was a tenth of a one-day query from rollups (13 µs of 250, <c>bench/QueryBench</c>).
/// </summary>
/// <remarks>
/// Keyed by the formula's text, so a custom KPI whose formula changes is compiled afresh. Bounded: emptied when it
/// holds <see cref="MaxKept"/> formulas (a catalog's and its clients' custom KPIs are far fewer).
/// </remarks>
internal static class QueryFormulas
{
    internal const int MaxKept = 1000;

    private static readonly BoundedKeep<string, FormulaCompileResult> Kept = new(MaxKept);

    /// <summary>How many formulas are kept now.</summary>
    internal static int Count => Kept.Count;

    public static FormulaCompileResult Compile(string formula) =>
        Kept.GetOrAdd(formula, static text => KpiFormula.Compile(text, BuiltInCatalog.ObjectModelsByCode));
}
