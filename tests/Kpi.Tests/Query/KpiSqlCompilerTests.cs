using AnalyticsEngine.Catalog;
using AnalyticsEngine.Kpi.Formula;
using AnalyticsEngine.Query;

namespace AnalyticsEngine.Kpi.Tests.Query;

/// <summary>The formula-to-SQL compiler: identifiers from the catalog only and quoted, every value a parameter.</summary>
public sealed class KpiSqlCompilerTests
{
    private static readonly IReadOnlyDictionary<string, ObjectModelDefinition> Catalog = BuiltInCatalog.ObjectModelsByCode;

    private static KpiSqlPlan Compile(string formula, IReadOnlyDictionary<string, ObjectModelDefinition>? models = null, string? dimension = null)
    {
        models ??= Catalog;
        var result = KpiFormula.Compile(formula, models);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        return KpiSqlCompiler.Compile(result.Formula!, models, dimension);
    }

    [Fact]
    public void Perfect_order_fulfillment_is_two_filtered_counts_over_the_orders_table()
    {
        var plan = Compile(BuiltInCatalog.FindKpi("POF")!.Formula);

        Assert.Contains("FROM \"scor_data\".\"orders\" AS t", plan.Sql, StringComparison.Ordinal);
        Assert.Contains("(count(*) FILTER (WHERE (((t.\"on_time\" AND t.\"in_full\") AND t.\"damage_free\") AND t.\"documentation_complete\")))::float8", plan.Sql, StringComparison.Ordinal);
        Assert.Contains("width_bucket(t.\"ordered_at\", $2)", plan.Sql, StringComparison.Ordinal);
        Assert.Contains("t.client_id = $1 AND t.\"ordered_at\" >= $3 AND t.\"ordered_at\" < $4", plan.Sql, StringComparison.Ordinal);
        Assert.Empty(plan.Parameters);
    }

    [Fact]
    public void Literals_become_parameters_never_sql_text()
    {
        var plan = Compile("sum(orders.order_value) filter (where orders.status = 'x''; DROP TABLE orders; --' and orders.order_value > 250.5)");

        Assert.DoesNotContain("DROP", plan.Sql, StringComparison.Ordinal);
        Assert.DoesNotContain("250.5", plan.Sql, StringComparison.Ordinal);
        Assert.Contains("(t.\"status\" COLLATE \"C\" = $5)", plan.Sql, StringComparison.Ordinal);
        Assert.Contains("(t.\"order_value\" > $6)", plan.Sql, StringComparison.Ordinal);
        Assert.Equal(["x'; DROP TABLE orders; --", 250.5], plan.Parameters);
    }

    [Fact]
    public void In_lists_is_null_and_field_to_field_comparisons_translate_with_sql_null_semantics()
    {
        var plan = Compile(
            "count(orders) filter (where orders.status in ('open', 'shipped') and orders.delivered_at is null) " +
            "+ count(orders) filter (where orders.carrier not in ('dhl') and orders.delivered_at > orders.promised_at) " +
            "+ count(orders) filter (where orders.on_time in (true))");

        Assert.Contains("(t.\"status\" = ANY($5))", plan.Sql, StringComparison.Ordinal);
        Assert.Contains("(t.\"delivered_at\" IS NULL)", plan.Sql, StringComparison.Ordinal);
        Assert.Contains("(NOT (t.\"carrier\" = ANY($6)))", plan.Sql, StringComparison.Ordinal);
        Assert.Contains("(t.\"delivered_at\" > t.\"promised_at\")", plan.Sql, StringComparison.Ordinal);
        Assert.Contains("(t.\"on_time\"::int::float8 = ANY($7))", plan.Sql, StringComparison.Ordinal);
        Assert.Equal(new[] { "open", "shipped" }, (string[])plan.Parameters[0]);
        Assert.Equal(new[] { "dhl" }, (string[])plan.Parameters[1]);
        Assert.Equal(new[] { 1.0 }, (double[])plan.Parameters[2]);
    }

    [Fact]
    public void Timestamp_arithmetic_is_in_milliseconds_and_division_is_null_safe()
    {
        var plan = Compile("avg((orders.delivered_at - orders.ordered_at) / orders.order_value) filter (where orders.delivered_at is not null)");

        Assert.Contains(
            "sum((((extract(epoch FROM t.\"delivered_at\") * 1000)::float8 - (extract(epoch FROM t.\"ordered_at\") * 1000)::float8) / nullif(t.\"order_value\", 0)))",
            plan.Sql, StringComparison.Ordinal);
        Assert.Contains("FILTER (WHERE (t.\"delivered_at\" IS NOT NULL))", plan.Sql, StringComparison.Ordinal);
    }

    [Fact]
    public void Aggregates_sharing_a_state_share_its_columns()
    {
        var plan = Compile("sum(orders.order_value) / count(orders.order_value) - avg(orders.order_value)");

        Assert.Equal(2, plan.Sql.Split("sum(t.\"order_value\")").Length);
        Assert.Equal(2, plan.Sql.Split("count(t.\"order_value\")").Length);
    }

    [Fact]
    public void Identifiers_are_quoted_with_embedded_quotes_doubled()
    {
        var odd = BuiltInCatalog.ObjectModelsByCode["orders"] with { Domain = "odd\"schema" };
        var models = new Dictionary<string, ObjectModelDefinition>(StringComparer.Ordinal) { ["orders"] = odd };

        var plan = Compile("count(orders)", models);

        Assert.Contains("FROM \"odd\"\"schema\".\"orders\" AS t", plan.Sql, StringComparison.Ordinal);
        Assert.Equal("\"a\"\"b\"", KpiSqlCompiler.Quote("a\"b"));
    }

    [Fact]
    public void Several_object_models_are_joined_on_the_bucket()
    {
        var plan = Compile(BuiltInCatalog.FindKpi("SCOR_RETURN_RATE")!.Formula);

        Assert.Contains("FROM \"scor_data\".\"order_returns\" AS t", plan.Sql, StringComparison.Ordinal);
        Assert.Contains("FROM \"scor_data\".\"orders\" AS t", plan.Sql, StringComparison.Ordinal);
        Assert.Contains("FULL JOIN o1 USING (\"#bucket\")", plan.Sql, StringComparison.Ordinal);
    }

    [Fact]
    public void Snapshot_objects_read_each_keys_latest_row_as_of_every_bucket_end()
    {
        var plan = Compile("sum(licenses.seats_used) / sum(licenses.seats_purchased)", TestModels.All);

        Assert.Contains("lead(t.\"observed_at\") OVER (PARTITION BY t.\"license_id\" ORDER BY t.\"observed_at\", t.sequence)", plan.Sql, StringComparison.Ordinal);
        Assert.Contains("generate_series(t.\"#lo\"", plan.Sql, StringComparison.Ordinal);
        Assert.Contains("t.client_id = $1 AND t.\"observed_at\" < $4", plan.Sql, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dimension_groups_every_object_and_must_be_a_text_boolean_or_integer_field_of_each()
    {
        var otd = KpiFormula.Compile(BuiltInCatalog.FindKpi("OTD")!.Formula, Catalog).Formula!;
        var returns = KpiFormula.Compile(BuiltInCatalog.FindKpi("SCOR_RETURN_RATE")!.Formula, Catalog).Formula!;

        Assert.Null(KpiSqlCompiler.DimensionProblem(otd, Catalog, "carrier"));
        Assert.Contains("number field", KpiSqlCompiler.DimensionProblem(otd, Catalog, "order_value"), StringComparison.Ordinal);
        Assert.Contains("'order_returns' has no field 'carrier'", KpiSqlCompiler.DimensionProblem(returns, Catalog, "carrier"), StringComparison.Ordinal);
        var plan = KpiSqlCompiler.Compile(otd, Catalog, "carrier");
        Assert.Contains("coalesce('=' || t.\"carrier\"::text, '') AS \"#dim\"", plan.Sql, StringComparison.Ordinal);
        Assert.Contains("GROUP BY 1, 2", plan.Sql, StringComparison.Ordinal);
    }
}
