using AnalyticsEngine.Kpi.Formula;

namespace AnalyticsEngine.Kpi.Engine;

/// <summary>A KPI the engine left out because its formula did not compile, with every error found.</summary>
public sealed record KpiCompileError(string KpiCode, IReadOnlyList<FormulaError> Errors);
