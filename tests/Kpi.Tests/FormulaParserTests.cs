using AnalyticsEngine.Kpi.Formula;

namespace AnalyticsEngine.Kpi.Tests;

public class FormulaParserTests
{
    private static CompiledFormula Ok(string formula)
    {
        var result = KpiFormula.Compile(formula, TestModels.All);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Empty(result.Errors);
        return result.Formula!;
    }

    private static IReadOnlyList<FormulaError> Fails(string formula)
    {
        var result = KpiFormula.Compile(formula, TestModels.All);
        Assert.False(result.Succeeded);
        Assert.Null(result.Formula);
        Assert.NotEmpty(result.Errors);
        return result.Errors;
    }

    private static double? Evaluate(CompiledFormula formula, params double[] aggregates) => formula.Evaluate(aggregates).Value;

    [Fact]
    public void Numbers_and_arithmetic_follow_precedence()
    {
        var formula = Ok("1 + 2 * 3 - 4 / 2 + count(orders) * 0");
        Assert.Equal(5, Evaluate(formula, 7));
    }

    [Fact]
    public void Parentheses_and_unary_minus()
    {
        var formula = Ok("-(1 + 2) * -2 + 0 * count(orders)");
        Assert.Equal(6, Evaluate(formula, 1));
        Assert.Equal(-3, Evaluate(Ok("- -(-3) + 0 * count(orders)"), 1));
    }

    [Fact]
    public void Decimal_and_exponent_literals()
    {
        Assert.Equal(0.5 + 1500 + 0.25, Evaluate(Ok("0.5 + 1.5e3 + .25 + 0 * count(orders)"), 1));
    }

    [Theory]
    [InlineData("sum(orders.value)", AggregateFunction.Sum)]
    [InlineData("count(orders)", AggregateFunction.Count)]
    [InlineData("avg(orders.value)", AggregateFunction.Avg)]
    [InlineData("min(orders.delivered_at)", AggregateFunction.Min)]
    [InlineData("MAX(orders.value)", AggregateFunction.Max)]
    [InlineData("count_distinct(orders.customer)", AggregateFunction.CountDistinct)]
    public void Each_aggregate_function_parses(string text, AggregateFunction function)
    {
        var formula = Ok(text);
        var term = Assert.Single(formula.Aggregates);
        Assert.Equal(function, term.Function);
        Assert.Equal("orders", term.ObjectModel);
        Assert.Equal(text, term.Name);
    }

    [Fact]
    public void Aggregate_over_an_expression_of_one_object()
    {
        var formula = Ok("sum(time_logs.hours * time_logs.rate)");
        var aggregate = Assert.IsType<AggregateExpression>(formula.Syntax);
        var product = Assert.IsType<BinaryExpression>(aggregate.Argument);
        Assert.Equal(BinaryOperator.Multiply, product.Operator);
        Assert.Equal("time_logs", Assert.Single(formula.Aggregates).ObjectModel);
    }

    [Fact]
    public void Filter_names_the_component_by_its_source_text()
    {
        var formula = Ok("100 * count(orders) filter (where orders.on_time and orders.in_full) / count(orders)");
        Assert.Equal(["count(orders) filter (where orders.on_time and orders.in_full)", "count(orders)"], formula.Aggregates.Select(a => a.Name));
        Assert.Equal(50, Evaluate(formula, 2, 4));
    }

    [Fact]
    public void Whitespace_in_names_is_tidied_and_identical_aggregates_are_listed_once()
    {
        var formula = Ok("count(orders)   filter (where\n orders.on_time) / count(orders) + count(orders)");
        Assert.Equal(["count(orders) filter (where orders.on_time)", "count(orders)"], formula.Aggregates.Select(a => a.Name));
    }

    [Theory]
    [InlineData("orders.delivered_at <= orders.promised_at")]
    [InlineData("orders.value = orders.quantity")]
    [InlineData("orders.value != 3")]
    [InlineData("orders.value <> 3")]
    [InlineData("orders.value < 3")]
    [InlineData("orders.value > 3")]
    [InlineData("orders.value >= 3")]
    [InlineData("orders.status = 'Paid'")]
    [InlineData("orders.status in ('Paid', 'Pending')")]
    [InlineData("orders.status not in ('Void')")]
    [InlineData("orders.quantity in (1, 2, -3)")]
    [InlineData("orders.delivered_at is null")]
    [InlineData("orders.delivered_at is not null")]
    [InlineData("orders.on_time")]
    [InlineData("not orders.on_time")]
    [InlineData("orders.on_time = true")]
    [InlineData("orders.on_time or (orders.in_full and not orders.value > 10)")]
    [InlineData("true")]
    [InlineData("orders.status = 'it''s'")]
    public void Each_predicate_form_is_accepted_in_a_filter(string predicate) =>
        Ok($"count(orders) filter (where {predicate})");

    [Theory]
    [InlineData("round(avg(orders.value), 2)")]
    [InlineData("round(avg(orders.value))")]
    [InlineData("abs(sum(orders.value))")]
    [InlineData("coalesce(sum(orders.value), 0)")]
    [InlineData("least(sum(orders.value), 10, count(orders))")]
    [InlineData("greatest(sum(orders.value), 10)")]
    [InlineData("sum(abs(orders.value) + coalesce(orders.quantity, 0))")]
    public void Functions_inside_and_outside_aggregates(string formula) => Ok(formula);

    [Fact]
    public void Function_results()
    {
        Assert.Equal(2.35, Evaluate(Ok("round(sum(orders.value), 2)"), 2.345));
        Assert.Equal(-3, Evaluate(Ok("round(sum(orders.value))"), -2.5));
        Assert.Equal(1200, Evaluate(Ok("round(sum(orders.value), -2)"), 1249));
        Assert.Equal(4, Evaluate(Ok("abs(sum(orders.value))"), -4));
        Assert.Equal(0, Evaluate(Ok("coalesce(sum(orders.value), 0)"), double.NaN));
        Assert.Equal(3, Evaluate(Ok("least(sum(orders.value), 10, count(orders))"), double.NaN, 3));
        Assert.Equal(10, Evaluate(Ok("greatest(sum(orders.value), 10)"), 7));
    }

    [Fact]
    public void Division_by_zero_has_no_value_and_names_the_divisor()
    {
        var (value, reason) = Ok("count(orders) filter (where orders.on_time) / count(orders)").Evaluate([0, 0]);
        Assert.Null(value);
        Assert.Equal("division by zero: count(orders) is 0", reason);
    }

    [Fact]
    public void An_aggregate_without_rows_has_no_value_with_a_reason()
    {
        var (value, reason) = Ok("avg(orders.value) * 2").Evaluate([double.NaN]);
        Assert.Null(value);
        Assert.Contains("avg(orders.value)", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Overflow_never_reaches_the_result()
    {
        var (value, reason) = Ok("sum(orders.value) * 1e300 * 1e300").Evaluate([10]);
        Assert.Null(value);
        Assert.NotNull(reason);
    }

    [Fact]
    public void Sum_avg_and_count_of_the_same_expression_share_one_state()
    {
        var formula = Ok("sum(orders.value) / count(orders.value) - avg(orders.value) filter (where orders.on_time)");
        Assert.Equal(formula.Aggregates[0].StateKey, formula.Aggregates[1].StateKey);
        Assert.NotEqual(formula.Aggregates[0].StateKey, formula.Aggregates[2].StateKey);
    }

    [Fact]
    public void Filters_that_differ_only_in_order_normalise_to_the_same_state()
    {
        var a = Ok("count(orders) filter (where orders.on_time and orders.in_full)").Aggregates[0];
        var b = Ok("count(orders) filter (where (orders.in_full) AND orders.on_time)").Aggregates[0];
        Assert.Equal(a.StateKey, b.StateKey);
    }

    [Fact]
    public void Multi_line_formulas_are_fine()
    {
        Ok("100\n  * count(orders) filter (where orders.on_time)\n  / count(orders)");
    }

    // ---- errors: each with line, column and a caret excerpt ----

    [Fact]
    public void Unknown_field_points_at_the_field()
    {
        var error = Assert.Single(Fails("sum(orders.valeu)"));
        Assert.Equal(1, error.Line);
        Assert.Equal(12, error.Column);
        Assert.Contains("unknown field 'valeu'", error.Message, StringComparison.Ordinal);
        Assert.Equal("sum(orders.valeu)\n           ^^^^^", error.Excerpt);
    }

    [Fact]
    public void Unknown_object_points_at_the_object()
    {
        var error = Assert.Single(Fails("count(ordrs)"));
        Assert.Equal((1, 7), (error.Line, error.Column));
        Assert.Contains("unknown object model 'ordrs'", error.Message, StringComparison.Ordinal);
        Assert.Equal("count(ordrs)\n      ^^^^^", error.Excerpt);
    }

    [Fact]
    public void Errors_on_later_lines_report_their_line_and_only_that_line()
    {
        var error = Assert.Single(Fails("count(orders)\n  / sum(orders.nope)"));
        Assert.Equal((2, 16), (error.Line, error.Column));
        Assert.Equal("  / sum(orders.nope)\n               ^^^^", error.Excerpt);
    }

    [Fact]
    public void All_errors_are_reported_at_once_in_source_order()
    {
        var errors = Fails("sum(orders.nope) + count(ordrs) + sum(orders.status)");
        Assert.Equal(3, errors.Count);
        Assert.Equal([12, 26, 39], errors.Select(e => e.Column));
        Assert.Contains("type mismatch", errors[2].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sum_of_text_is_a_type_mismatch()
    {
        var error = Assert.Single(Fails("sum(orders.status)"));
        Assert.Contains("type mismatch", error.Message, StringComparison.Ordinal);
        Assert.Equal(5, error.Column);
    }

    [Fact]
    public void Comparing_number_to_text_is_a_type_mismatch_at_the_operator()
    {
        var error = Assert.Single(Fails("count(orders) filter (where orders.value = 'x')"));
        Assert.Contains("cannot compare a number with text", error.Message, StringComparison.Ordinal);
        Assert.Equal(42, error.Column);
        Assert.EndsWith("\n" + new string(' ', 41) + "^", error.Excerpt, StringComparison.Ordinal);
    }

    [Fact]
    public void In_list_of_the_wrong_type_is_refused()
    {
        var error = Assert.Single(Fails("count(orders) filter (where orders.status in ('a', 2))"));
        Assert.Contains("type mismatch", error.Message, StringComparison.Ordinal);
        Assert.Equal(52, error.Column);
    }

    [Fact]
    public void Aggregate_inside_aggregate_is_refused()
    {
        var error = Assert.Single(Fails("sum(count(orders))"));
        Assert.Contains("inside another aggregate", error.Message, StringComparison.Ordinal);
        Assert.Equal(5, error.Column);
    }

    [Fact]
    public void Mixing_objects_in_one_aggregate_is_refused()
    {
        var error = Assert.Single(Fails("sum(orders.value * invoices.amount)"));
        Assert.Contains("one aggregate reads one object model", error.Message, StringComparison.Ordinal);
        Assert.Equal(20, error.Column);
    }

    [Fact]
    public void Mixing_objects_through_the_filter_is_refused()
    {
        var error = Assert.Single(Fails("count(orders) filter (where invoices.status = 'Paid')"));
        Assert.Contains("one aggregate reads one object model", error.Message, StringComparison.Ordinal);
        Assert.Equal(29, error.Column);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n ")]
    public void Empty_formula_is_refused(string formula)
    {
        var error = Assert.Single(Fails(formula));
        Assert.Contains("empty", error.Message, StringComparison.Ordinal);
        Assert.Equal((1, 1), (error.Line, error.Column));
    }

    [Fact]
    public void Over_long_formula_is_refused()
    {
        var formula = "count(orders)" + new string(' ', KpiFormula.MaxLength);
        var error = Assert.Single(Fails(formula));
        Assert.Contains("at most 4000", error.Message, StringComparison.Ordinal);
        Assert.Equal(KpiFormula.MaxLength + 1, error.Column);
    }

    [Fact]
    public void Excerpts_of_very_long_lines_are_cut_around_the_spot()
    {
        var formula = string.Join(" + ", Enumerable.Repeat("count(orders)", 30)) + " + sum(orders.nope) + " + string.Join(" + ", Enumerable.Repeat("count(orders)", 30));
        var error = Assert.Single(Fails(formula));
        Assert.Equal(formula.IndexOf("nope", StringComparison.Ordinal) + 1, error.Column);
        var lines = error.Excerpt.Split('\n');
        Assert.True(lines[0].Length <= 122);
        Assert.StartsWith("…", lines[0], StringComparison.Ordinal);
        Assert.EndsWith("…", lines[0], StringComparison.Ordinal);
        Assert.Equal("nope", lines[0].Substring(lines[1].IndexOf('^', StringComparison.Ordinal), 4));
        Assert.EndsWith("^^^^", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Over_deep_formula_is_refused_without_overflowing_the_stack()
    {
        var formula = new string('(', 65) + "count(orders)" + new string(')', 65);
        var error = Assert.Single(Fails(formula));
        Assert.Contains("deeper than 64", error.Message, StringComparison.Ordinal);
        Assert.Equal(65, error.Column);
        Assert.Single(Fails(new string('-', 3000) + "count(orders)"));
    }

    [Fact]
    public void Nesting_up_to_the_limit_is_accepted()
    {
        Ok(new string('(', 60) + "count(orders)" + new string(')', 60));
    }

    [Fact]
    public void Field_outside_an_aggregate_is_refused()
    {
        var error = Assert.Single(Fails("orders.value + 1"));
        Assert.Contains("inside an aggregate", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, error.Column);
    }

    [Fact]
    public void Whole_object_outside_count_is_refused()
    {
        var error = Assert.Single(Fails("sum(orders)"));
        Assert.Contains("only count takes a whole object model", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Condition_as_a_formula_is_refused()
    {
        var error = Assert.Single(Fails("count(orders) > 3"));
        Assert.Contains("must produce a number", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Aggregate_of_constants_must_read_an_object()
    {
        Assert.Contains("must read an object model", Assert.Single(Fails("sum(1)")).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("count(orders", 13, "expected ')'")]
    [InlineData("count(orders))", 14, "unexpected ')'")]
    [InlineData("1 + * count(orders)", 5, "expected a number")]
    [InlineData("count(orders) filter (orders.on_time)", 23, "expected 'where'")]
    [InlineData("count(orders) filter (where orders.status = 'open)", 45, "not closed")]
    [InlineData("count(orders) # 2", 15, "unexpected character '#'")]
    [InlineData("median(orders.value)", 1, "unknown function 'median'")]
    [InlineData("round(count(orders), 1, 2)", 1, "round takes 1 to 2 arguments")]
    [InlineData("count(orders) filter (where orders.value is 3)", 45, "expected 'null'")]
    [InlineData("sum(orders.)", 12, "expected a field name")]
    public void Syntax_errors_point_at_the_spot(string formula, int column, string message)
    {
        var error = Fails(formula)[0];
        Assert.Equal(1, error.Line);
        Assert.Equal(column, error.Column);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        var lines = error.Excerpt.Split('\n');
        Assert.Equal(formula, lines[0]);
        Assert.Equal(column - 1, lines[1].IndexOf('^', StringComparison.Ordinal));
    }

    [Fact]
    public void Syntax_and_name_errors_are_reported_together()
    {
        var errors = Fails("sum(orders.nope) + * 2");
        Assert.Equal(2, errors.Count);
    }

    [Fact]
    public void Ordering_comparison_of_booleans_is_refused()
    {
        Assert.Contains("only be compared with '='", Assert.Single(Fails("count(orders) filter (where orders.on_time > orders.in_full)")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Timestamps_subtract_to_a_number_but_do_not_add()
    {
        Ok("avg(orders.delivered_at - orders.ordered_at) / 3600000");
        Assert.Contains("type mismatch", Assert.Single(Fails("avg(orders.delivered_at + orders.ordered_at)")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tabs_are_kept_in_the_caret_line()
    {
        var error = Assert.Single(Fails("\tsum(orders.nope)"));
        Assert.Equal("\tsum(orders.nope)\n\t           ^^^^", error.Excerpt);
        Assert.Equal(13, error.Column);
    }

    [Fact]
    public void The_documented_error_example_holds()
    {
        var errors = Fails("sum(orders.valeu) / count(ordrs)");
        Assert.Equal(2, errors.Count);
        Assert.Equal("sum(orders.valeu) / count(ordrs)\n           ^^^^^", errors[0].Excerpt);
        Assert.Equal((1, 27), (errors[1].Line, errors[1].Column));
        Assert.Equal("unknown object model 'ordrs'; known: invoices, licenses, orders, time_logs", errors[1].Message);
        Assert.Equal("sum(orders.valeu) / count(ordrs)\n                          ^^^^^", errors[1].Excerpt);
    }
}
