using System.Text.Json;
using System.Text.RegularExpressions;
using AnalyticsEngine.Catalog;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace AnalyticsEngine.Kpi.Tests;

public sealed partial class CatalogTests
{
    private static readonly HashSet<string> Domains =
        ["scor_data", "crm_data", "sales_data", "financial_data", "msp_data", "time_data"];

    // PostgreSQL reserved words that could plausibly be chosen as column names, and the columns storage adds itself.
    private static readonly HashSet<string> ForbiddenFieldNames =
    [
        "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "both", "case", "cast", "check", "collate",
        "column", "constraint", "create", "current_date", "current_time", "current_timestamp", "current_user",
        "default", "desc", "distinct", "do", "else", "end", "except", "false", "fetch", "for", "foreign", "from",
        "grant", "group", "having", "in", "initially", "intersect", "into", "lateral", "leading", "limit",
        "localtime", "localtimestamp", "not", "null", "offset", "on", "only", "or", "order", "placing", "primary",
        "references", "returning", "select", "session_user", "some", "symmetric", "table", "then", "to",
        "trailing", "true", "union", "unique", "user", "using", "variadic", "when", "where", "window", "with",
        "client_id", "sequence",
    ];

    public static TheoryData<string> KpiCodes => [.. BuiltInCatalog.Kpis.Select(k => k.Code)];

    public static TheoryData<string> ObjectModelCodes => [.. BuiltInCatalog.ObjectModels.Select(o => o.Code)];

    [Fact]
    public void Every_code_is_unique_within_its_kind()
    {
        AssertUnique(BuiltInCatalog.ValueChains.Select(v => v.Code));
        AssertUnique(BuiltInCatalog.Modules.Select(m => m.Code));
        AssertUnique(BuiltInCatalog.ObjectModels.Select(o => o.Code));
        AssertUnique(BuiltInCatalog.Kpis.Select(k => k.Code));

        static void AssertUnique(IEnumerable<string> codes)
        {
            var duplicates = codes.GroupBy(c => c, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).Select(g => g.Key);
            Assert.Empty(duplicates);
        }
    }

    [Fact]
    public void Catalog_is_a_menu_of_useful_size_covering_every_pack()
    {
        Assert.InRange(BuiltInCatalog.Kpis.Count, 40, 80);
        Assert.Equal(["SCOR", "CRM", "SALES", "FINANCIAL", "MSP", "TIME_TRACKING"], BuiltInCatalog.ValueChains.Select(v => v.Code));
        foreach (var chain in BuiltInCatalog.ValueChains)
        {
            Assert.Contains(BuiltInCatalog.Modules, m => m.ValueChain == chain.Code);
        }

        foreach (var module in BuiltInCatalog.Modules)
        {
            Assert.True(BuiltInCatalog.ValueChains.Any(v => v.Code == module.ValueChain), $"module {module.Code}: unknown value chain {module.ValueChain}");
            Assert.True(BuiltInCatalog.Kpis.Any(k => k.Module == module.Code), $"module {module.Code} has no KPI");
        }
    }

    [Theory]
    [InlineData("POF")]
    [InlineData("OTD")]
    [InlineData("SCOR_IN_FULL_RATE")]
    [InlineData("SCOR_ORDER_FULFILLMENT_CYCLE_TIME")]
    [InlineData("SCOR_AVG_ORDER_VALUE")]
    [InlineData("MSP_PROFIT_MARGIN")]
    [InlineData("MSP_LICENSE_UTILIZATION")]
    [InlineData("MSP_LICENSE_WASTE")]
    [InlineData("MSP_BILLABLE_UTILIZATION")]
    [InlineData("TIME_TASK_COMPLETION_RATE")]
    [InlineData("TIME_ON_TIME_COMPLETION_RATE")]
    [InlineData("TIME_HOURS_TRACKED")]
    [InlineData("TIME_ESTIMATE_VARIANCE")]
    [InlineData("TIME_PRODUCTIVITY_SCORE")]
    public void Seed_kpis_are_in_the_catalog(string code) => Assert.NotNull(BuiltInCatalog.FindKpi(code));

    [Fact]
    public void Seed_formulas_are_the_specified_ones()
    {
        Assert.Equal(
            "100 * count(orders) filter (where orders.on_time and orders.in_full and orders.damage_free and orders.documentation_complete) / count(orders)",
            BuiltInCatalog.FindKpi("POF")!.Formula);
        Assert.Equal("100 * count(orders) filter (where orders.on_time) / count(orders)", BuiltInCatalog.FindKpi("OTD")!.Formula);
        var margin = BuiltInCatalog.FindKpi("MSP_PROFIT_MARGIN")!.Formula;
        Assert.Contains("invoices.status in ('Paid', 'Pending')", margin, StringComparison.Ordinal);
        Assert.Contains("sum(time_logs.hours * time_logs.rate) filter (where time_logs.billable)", margin, StringComparison.Ordinal);
    }

    [Fact]
    public void Lookups_ignore_case_and_refuse_unknown_codes()
    {
        Assert.Same(BuiltInCatalog.FindKpi("POF"), BuiltInCatalog.FindKpi("pof"));
        Assert.Null(BuiltInCatalog.FindKpi("NO_SUCH_KPI"));
        Assert.Equal("orders", BuiltInCatalog.FindObjectModel("ORDERS")?.Code);
        Assert.Null(BuiltInCatalog.FindObjectModel("nothing"));
        Assert.Null(BuiltInCatalog.FindKpisByModule("NO_SUCH_MODULE"));
        Assert.All(BuiltInCatalog.FindKpisByModule("scor_deliver")!, k => Assert.Equal("SCOR_DELIVER", k.Module));
        Assert.Same(BuiltInCatalog.ObjectModels.Single(o => o.Code == "licenses"), BuiltInCatalog.ObjectModelsByCode["licenses"]);
    }

    [Theory]
    [MemberData(nameof(KpiCodes))]
    public void Kpi_is_complete_and_belongs_to_an_existing_module_and_value_chain(string code)
    {
        var kpi = BuiltInCatalog.FindKpi(code)!;
        Assert.Matches("^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$", kpi.Code);
        Assert.False(string.IsNullOrWhiteSpace(kpi.Name));
        Assert.True(kpi.Description.Length >= 20, "description says what the KPI measures");
        Assert.Contains(kpi.Unit, new[] { "percent", "hours", "days", "currency", "count", "score" });
        var module = BuiltInCatalog.Modules.SingleOrDefault(m => m.Code == kpi.Module);
        Assert.NotNull(module);
        Assert.Equal(kpi.ValueChain, module.ValueChain);
        Assert.Contains(BuiltInCatalog.ValueChains, v => v.Code == kpi.ValueChain);
        Assert.NotEmpty(kpi.RequiredObjects);
    }

    [Theory]
    [MemberData(nameof(KpiCodes))]
    public void Formula_names_exactly_its_required_objects_and_only_their_fields(string code)
    {
        var kpi = BuiltInCatalog.FindKpi(code)!;
        foreach (var required in kpi.RequiredObjects)
        {
            Assert.True(BuiltInCatalog.ObjectModelsByCode.ContainsKey(required), $"{code}: unknown required object {required}");
        }

        var named = new HashSet<string>(StringComparer.Ordinal);
        var formula = WithoutStringLiterals(kpi.Formula);
        foreach (Match reference in FieldReference().Matches(formula))
        {
            var (objectCode, fieldName) = (reference.Groups[1].Value, reference.Groups[2].Value);
            named.Add(objectCode);
            Assert.True(kpi.RequiredObjects.Contains(objectCode), $"{code}: formula uses {objectCode} but does not require it");
            Assert.True(
                BuiltInCatalog.ObjectModelsByCode.TryGetValue(objectCode, out var model) && model.FindField(fieldName) is not null,
                $"{code}: {objectCode}.{fieldName} is not a field of the object model");
        }

        foreach (Match counted in CountedObject().Matches(formula))
        {
            named.Add(counted.Groups[1].Value);
        }

        Assert.Equal(kpi.RequiredObjects.Order(StringComparer.Ordinal), named.Order(StringComparer.Ordinal));
        Assert.Equal(formula.Count(c => c == '('), formula.Count(c => c == ')'));
    }

    [Theory]
    [MemberData(nameof(KpiCodes))]
    public void Text_literals_in_a_formula_are_values_the_field_documents(string code)
    {
        // A typo such as 'Done' for 'done' parses and compiles but silently matches nothing.
        var kpi = BuiltInCatalog.FindKpi(code)!;
        foreach (Match comparison in TextComparison().Matches(kpi.Formula))
        {
            var field = BuiltInCatalog.ObjectModelsByCode[comparison.Groups["obj"].Value].FindField(comparison.Groups["field"].Value)!;
            Assert.Equal(FieldType.Text, field.Type);
            foreach (Match literal in StringLiteral().Matches(comparison.Groups["values"].Value))
            {
                Assert.True(
                    field.Description.Contains(literal.Value, StringComparison.Ordinal),
                    $"{code}: {literal.Value} is not a documented value of {comparison.Groups["obj"].Value}.{field.Name}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(ObjectModelCodes))]
    public void Object_model_is_storable_and_consistent(string code)
    {
        var model = BuiltInCatalog.ObjectModelsByCode[code];
        Assert.Matches("^[a-z][a-z0-9_]*$", model.Code);
        Assert.DoesNotContain(model.Code, ForbiddenFieldNames);
        Assert.Contains(model.Domain, Domains);
        Assert.False(string.IsNullOrWhiteSpace(model.Description));

        Assert.DoesNotContain(model.Fields.GroupBy(f => f.Name), g => g.Count() > 1);
        foreach (var field in model.Fields)
        {
            Assert.Matches("^[a-z][a-z0-9_]{0,62}$", field.Name);
            Assert.DoesNotContain(field.Name, ForbiddenFieldNames);
            Assert.False(string.IsNullOrWhiteSpace(field.Description), $"{code}.{field.Name} has no description");
            Assert.True(Enum.IsDefined(field.Type));
        }

        var eventTime = model.FindField(model.EventTimeField);
        Assert.NotNull(eventTime);
        Assert.Equal(FieldType.Timestamp, eventTime.Type);
        Assert.True(eventTime.Required, $"{code}: the event-time field must be required");

        Assert.NotEmpty(model.KeyFields);
        foreach (var key in model.KeyFields)
        {
            Assert.True(model.FindField(key) is { Required: true }, $"{code}: key field {key} must exist and be required");
        }

        foreach (var relationship in model.Relationships)
        {
            var field = model.FindField(relationship.Field);
            Assert.NotNull(field);
            Assert.True(BuiltInCatalog.ObjectModelsByCode.TryGetValue(relationship.TargetObject, out var target), $"{code}: unknown target {relationship.TargetObject}");
            Assert.Equal(model.Domain, target.Domain);
            var targetField = target.FindField(relationship.TargetField);
            Assert.NotNull(targetField);
            Assert.Equal(targetField.Type, field.Type);
            Assert.Contains(relationship.TargetField, target.KeyFields);
        }
    }

    [Fact]
    public void Every_object_model_is_used_by_some_kpi_or_referenced_by_one_that_is()
    {
        var used = BuiltInCatalog.Kpis.SelectMany(k => k.RequiredObjects).ToHashSet();
        foreach (var model in BuiltInCatalog.ObjectModels.Where(o => !used.Contains(o.Code)))
        {
            Assert.Contains(BuiltInCatalog.ObjectModels, o => used.Contains(o.Code) && o.Relationships.Any(r => r.TargetObject == model.Code));
        }
    }

    [Fact]
    public void Orders_has_the_shape_ingest_and_storage_depend_on()
    {
        var orders = BuiltInCatalog.ObjectModelsByCode["orders"];
        Assert.Equal("scor_data", orders.Domain);
        Assert.Equal(ObjectKind.Event, orders.Kind);
        Assert.Equal("ordered_at", orders.EventTimeField);
        Assert.Equal(["order_id"], orders.KeyFields);
        Assert.Equal(
            [
                ("order_id", FieldType.Text, true), ("ordered_at", FieldType.Timestamp, true), ("order_value", FieldType.Number, true),
                ("promised_at", FieldType.Timestamp, true), ("delivered_at", FieldType.Timestamp, false), ("on_time", FieldType.Boolean, true),
                ("in_full", FieldType.Boolean, true), ("damage_free", FieldType.Boolean, true), ("documentation_complete", FieldType.Boolean, true),
                ("status", FieldType.Text, true), ("carrier", FieldType.Text, false),
            ],
            orders.Fields.Select(f => (f.Name, f.Type, f.Required)));
    }

    [Fact]
    public void Snapshot_objects_are_the_latest_state_kind_and_event_objects_the_happenings()
    {
        string[] snapshots = ["accounts", "support_cases", "leads", "opportunities", "receivables", "payables", "budget_lines", "managed_clients", "licenses", "users", "tasks"];
        Assert.Equal(
            snapshots.Order(StringComparer.Ordinal),
            BuiltInCatalog.ObjectModels.Where(o => o.Kind == ObjectKind.Snapshot).Select(o => o.Code).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Catalog_survives_orleans_serialization_unchanged()
    {
        using var services = new ServiceCollection().AddSerializer().BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer>();

        AssertRoundTrip(BuiltInCatalog.Kpis.ToArray());
        AssertRoundTrip(BuiltInCatalog.ObjectModels.ToArray());
        AssertRoundTrip(BuiltInCatalog.Modules.ToArray());
        AssertRoundTrip(BuiltInCatalog.ValueChains.ToArray());

        void AssertRoundTrip<T>(T value)
        {
            var copy = serializer.Deserialize<T>(serializer.SerializeToArray(value));
            Assert.Equal(JsonSerializer.Serialize(value), JsonSerializer.Serialize(copy));
        }
    }

    // TODO: enable once the formula compiler (grains/Kpi/Formula, branch engine) is merged.
    // [Theory]
    // [MemberData(nameof(KpiCodes))]
    // public void Built_in_formula_compiles_without_errors(string code)
    // {
    //     var kpi = BuiltInCatalog.FindKpi(code)!;
    //     var compiled = AnalyticsEngine.Kpi.Formula.KpiFormula.Compile(kpi.Formula, BuiltInCatalog.ObjectModelsByCode);
    //     Assert.Empty(compiled.Errors);
    // }

    private static string WithoutStringLiterals(string formula) => StringLiteral().Replace(formula, "''");

    [GeneratedRegex(@"\b([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\b")]
    private static partial Regex FieldReference();

    [GeneratedRegex(@"\bcount\(\s*([a-z_][a-z0-9_]*)\s*\)")]
    private static partial Regex CountedObject();

    [GeneratedRegex(@"'[^']*'")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"\b(?<obj>[a-z_][a-z0-9_]*)\.(?<field>[a-z_][a-z0-9_]*)\s*(?:!=|=|\bin\b)\s*(?<values>'[^']*'|\([^)]*\))")]
    private static partial Regex TextComparison();
}
