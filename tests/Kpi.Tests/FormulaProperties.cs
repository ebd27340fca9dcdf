using AnalyticsEngine.Kpi.Formula;
using CsCheck;

namespace AnalyticsEngine.Kpi.Tests;

public class FormulaProperties
{
    private static readonly string[] Pieces =
    [
        "count(", "sum(", "avg(", "min(", "max(", "count_distinct(", "round(", "abs(", "coalesce(", "least(", "greatest(",
        "orders", "orders.value", "orders.status", "orders.on_time", "invoices.amount", "licenses.seats_used", "nope.x",
        ")", "(", ",", " filter (where ", " and ", " or ", "not ", " in (", " is null", " is not null",
        "+", "-", "*", "/", "=", "<>", "<=", ">", "'Paid'", "'", "1", "0.5", "1e3", "true", "#", "\n", " ", ".",
    ];

    [Fact]
    public void Any_input_gives_a_formula_or_positioned_errors_and_never_throws() =>
        Gen.Int[0, Pieces.Length - 1].Array[0, 40].Select(indexes => string.Concat(indexes.Select(i => Pieces[i]))).Sample(text =>
        {
            var result = KpiFormula.Compile(text, TestModels.All);
            Assert.Equal(result.Formula is null, result.Errors.Count > 0);
            var lines = text.Split('\n');
            foreach (var error in result.Errors)
            {
                Assert.InRange(error.Line, 1, lines.Length);
                Assert.InRange(error.Column, 1, lines[error.Line - 1].Length + 1);
                Assert.Contains("^", error.Excerpt, StringComparison.Ordinal);
                Assert.False(string.IsNullOrWhiteSpace(error.Message));
            }
        }, iter: 3000);

    [Fact]
    public void Normal_form_is_stable_and_means_the_same_formula() =>
        Gen.Int[0, int.MaxValue].Sample(seed =>
        {
            var random = new RandomScenario(seed);
            var pool = Enumerable.Range(0, 3).Select(_ => random.Aggregate()).ToList();
            var formula = KpiFormula.Compile(random.Formula(pool), TestModels.All).Formula;
            if (formula is null)
            {
                return; // the pool drew an aggregate without an object; the engine property covers valid ones
            }

            var canonical = CanonicalText.Of(formula.Syntax);
            var reparsed = KpiFormula.Compile(canonical, TestModels.All);
            Assert.True(reparsed.Succeeded, canonical + "\n" + string.Join("\n", reparsed.Errors));
            Assert.True(canonical == CanonicalText.Of(reparsed.Formula!.Syntax), canonical + "\n" + CanonicalText.Of(reparsed.Formula!.Syntax));
            Assert.Equal(formula.Aggregates.Select(a => a.StateKey).Distinct().Order(), reparsed.Formula.Aggregates.Select(a => a.StateKey).Distinct().Order());
        }, iter: 500);
}
