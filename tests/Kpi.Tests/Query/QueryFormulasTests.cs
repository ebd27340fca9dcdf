using AnalyticsEngine.Catalog;
using AnalyticsEngine.Query;

namespace AnalyticsEngine.Kpi.Tests.Query;

/// <summary>The query path's compiled formulas: kept per text, errors included, and never more than the bound.</summary>
public sealed class QueryFormulasTests
{
    [Fact]
    public void A_formula_is_compiled_once_and_a_changed_text_afresh()
    {
        var formula = BuiltInCatalog.FindKpi("POF")!.Formula;

        var first = QueryFormulas.Compile(formula);
        var again = QueryFormulas.Compile(new string(formula.AsSpan()));
        var changed = QueryFormulas.Compile(formula + " * 2");

        Assert.Same(first, again);
        Assert.NotSame(first.Formula, changed.Formula);
        Assert.Equal(2 * first.Formula!.Evaluate([1, 2]).Value, changed.Formula!.Evaluate([1, 2]).Value);
    }

    [Fact]
    public void A_formula_that_does_not_compile_keeps_its_errors()
    {
        var result = QueryFormulas.Compile("count(orders) filter (where orders.colour = 'red')");

        Assert.False(result.Succeeded);
        Assert.Contains(result.Errors, e => e.Message.Contains("colour", StringComparison.Ordinal));
        Assert.Same(result, QueryFormulas.Compile("count(orders) filter (where orders.colour = 'red')"));
    }

    [Fact]
    public void No_more_formulas_are_kept_than_the_bound()
    {
        for (var i = 0; i <= QueryFormulas.MaxKept + 10; i++)
        {
            Assert.True(QueryFormulas.Compile($"count(orders) + {i}").Succeeded);
        }

        Assert.InRange(QueryFormulas.Count, 1, QueryFormulas.MaxKept);
    }
}
