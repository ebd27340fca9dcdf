using System.Text.Json;
using System.Text.RegularExpressions;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi.Engine;
using AnalyticsEngine.Kpi.Formula;
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
        // A snapshot is read as each key's latest row before a period's end, so its event time must be the time a
        // row's state became true; a creation time would let today's update rewrite every past period.
        Assert.All(
            BuiltInCatalog.ObjectModels.Where(o => o.Kind == ObjectKind.Snapshot),
            o => Assert.Equal("updated_at", o.EventTimeField));
        string[] snapshots = ["accounts", "opportunities", "receivables", "managed_clients", "licenses", "users", "tasks"];
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

    [Theory]
    [MemberData(nameof(KpiCodes))]
    public void Built_in_formula_compiles_without_errors_and_reads_its_required_objects(string code)
    {
        var kpi = BuiltInCatalog.FindKpi(code)!;
        var compiled = KpiFormula.Compile(kpi.Formula, BuiltInCatalog.ObjectModelsByCode);
        Assert.True(compiled.Errors.Count == 0, string.Join(Environment.NewLine, compiled.Errors));
        Assert.Equal(kpi.RequiredObjects.Order(StringComparer.Ordinal), compiled.Formula!.ObjectModels);
    }

    [Fact]
    public void Msp_profitability_follows_the_seed_definition()
    {
        // Revenue counts Paid and Pending invoices only; cost is billable hours times rate (non-billable time is free).
        var engine = Engine("MSP_PROFIT_MARGIN", "MSP_PROFIT", "MSP_BILLABLE_UTILIZATION", "MSP_AVG_BILLABLE_RATE");
        Apply(engine, "invoices",
            Row(("invoice_id", "i1"), ("client_name", "Acme"), ("amount", 1000.0), ("invoiced_at", Day0), ("status", "Paid")),
            Row(("invoice_id", "i2"), ("client_name", "Acme"), ("amount", 500.0), ("invoiced_at", Day0), ("status", "Pending")),
            Row(("invoice_id", "i3"), ("client_name", "Acme"), ("amount", 700.0), ("invoiced_at", Day0), ("status", "Cancelled")));
        Apply(engine, "time_logs",
            Row(("time_log_id", "t1"), ("staff_name", "Ann"), ("client_name", "Acme"), ("hours", 8.0), ("rate", 50.0), ("billable", true), ("logged_at", Day0)),
            Row(("time_log_id", "t2"), ("staff_name", "Bob"), ("client_name", "Acme"), ("hours", 2.0), ("rate", 100.0), ("billable", true), ("logged_at", Day0)),
            Row(("time_log_id", "t3"), ("staff_name", "Bob"), ("client_name", "Acme"), ("hours", 10.0), ("rate", 80.0), ("billable", false), ("logged_at", Day0)));

        Assert.Equal(100.0 * (1500 - 600) / 1500, Today(engine, "MSP_PROFIT_MARGIN"), 9);
        Assert.Equal(900.0, Today(engine, "MSP_PROFIT"), 9);
        Assert.Equal(50.0, Today(engine, "MSP_BILLABLE_UTILIZATION"), 9);
        Assert.Equal(60.0, Today(engine, "MSP_AVG_BILLABLE_RATE"), 9);
    }

    [Fact]
    public void License_kpis_read_each_licenses_latest_report_and_only_active_ones()
    {
        var engine = Engine("MSP_LICENSE_UTILIZATION", "MSP_LICENSE_WASTE");
        Apply(engine, "licenses",
            Row(("license_id", "m365"), ("client_name", "Acme"), ("product_name", "M365"), ("seats_purchased", 10.0), ("seats_used", 5.0),
                ("cost_per_seat", 20.0), ("status", "Active"), ("updated_at", Day0)),
            Row(("license_id", "crm"), ("client_name", "Acme"), ("product_name", "CRM"), ("seats_purchased", 50.0), ("seats_used", 0.0),
                ("cost_per_seat", 99.0), ("status", "Expired"), ("updated_at", Day0)),
            Row(("license_id", "m365"), ("client_name", "Acme"), ("product_name", "M365"), ("seats_purchased", 10.0), ("seats_used", 8.0),
                ("cost_per_seat", 20.0), ("status", "Active"), ("updated_at", Day0.AddHours(1))));

        Assert.Equal(80.0, Today(engine, "MSP_LICENSE_UTILIZATION"), 9);
        Assert.Equal(40.0, Today(engine, "MSP_LICENSE_WASTE"), 9);
    }

    [Fact]
    public void Perfect_order_needs_all_four_outcomes_and_cycle_time_counts_delivered_orders_only()
    {
        var engine = Engine("POF", "OTD", "SCOR_ORDER_FULFILLMENT_CYCLE_TIME");
        Apply(engine, "orders",
            Order("o1", onTime: true, inFull: true, damageFree: true, documented: true, deliveredAfterHours: 24),
            Order("o2", onTime: true, inFull: true, damageFree: false, documented: true, deliveredAfterHours: 48),
            Order("o3", onTime: false, inFull: true, damageFree: true, documented: true, deliveredAfterHours: null),
            Order("o4", onTime: true, inFull: true, damageFree: true, documented: true, deliveredAfterHours: 36));

        Assert.Equal(50.0, Today(engine, "POF"), 9);
        Assert.Equal(75.0, Today(engine, "OTD"), 9);
        Assert.Equal(36.0, Today(engine, "SCOR_ORDER_FULFILLMENT_CYCLE_TIME"), 9);

        static IReadOnlyDictionary<string, object?> Order(string id, bool onTime, bool inFull, bool damageFree, bool documented, int? deliveredAfterHours) =>
            Row(("order_id", id), ("ordered_at", Day0), ("order_value", 100.0), ("promised_at", Day0.AddDays(2)),
                ("delivered_at", deliveredAfterHours is { } h ? Day0.AddHours(h) : null), ("on_time", onTime), ("in_full", inFull),
                ("damage_free", damageFree), ("documentation_complete", documented), ("status", deliveredAfterHours is null ? "shipped" : "delivered"));
    }

    [Fact]
    public void Productivity_score_follows_the_seed_composite()
    {
        // 2 working days, 3 tasks completed (2 of them by their deadline), 12 hours tracked:
        // 3/2*20 + 2/3*30 + min(12/2/8, 1)*30 + min(3/5, 1)*20 = 30 + 20 + 22.5 + 12 = 84.5
        var engine = Engine("TIME_PRODUCTIVITY_SCORE", "TIME_ON_TIME_COMPLETION_RATE", "TIME_HOURS_TRACKED");
        Apply(engine, "task_completions",
            Completion("c1", dueAfterHours: 5), Completion("c2", dueAfterHours: 1), Completion("c3", dueAfterHours: 8));
        Apply(engine, "time_entries",
            Entry("e1", "2026-03-02", hours: 5), Entry("e2", "2026-03-02", hours: 3), Entry("e3", "2026-03-03", hours: 4));

        Assert.Equal(84.5, Today(engine, "TIME_PRODUCTIVITY_SCORE"), 9);
        Assert.Equal(100.0 * 2 / 3, Today(engine, "TIME_ON_TIME_COMPLETION_RATE"), 9);
        Assert.Equal(12.0, Today(engine, "TIME_HOURS_TRACKED"), 9);

        static IReadOnlyDictionary<string, object?> Completion(string id, int dueAfterHours) =>
            Row(("completion_id", id), ("task_id", id), ("user_id", "u1"), ("created_at", Day0.AddDays(-3)),
                ("due_at", Day0.AddHours(dueAfterHours)), ("completed_at", Day0.AddHours(2)), ("tracked_hours", 1.0));

        static IReadOnlyDictionary<string, object?> Entry(string id, string workDate, int hours) =>
            Row(("entry_id", id), ("user_id", "u1"), ("started_at", Day0.AddHours(1)), ("ended_at", Day0.AddHours(1 + hours)),
                ("duration_seconds", hours * 3600.0), ("is_active", false), ("work_date", workDate));
    }

    private static readonly DateTimeOffset Day0 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private static ClientKpiEngine Engine(params string[] kpiCodes) =>
        new("c1", NodaTime.DateTimeZone.Utc, [.. kpiCodes.Select(c => BuiltInCatalog.FindKpi(c)!)], BuiltInCatalog.ObjectModelsByCode, new KpiEngineOptions());

    private static IReadOnlyDictionary<string, object?> Row(params (string Field, object? Value)[] values) =>
        values.ToDictionary(v => v.Field, v => v.Value);

    private static void Apply(ClientKpiEngine engine, string objectModel, params IReadOnlyDictionary<string, object?>[] rows)
    {
        var model = BuiltInCatalog.ObjectModelsByCode[objectModel];
        var layout = new ObjectModelLayout(model);
        var sequence = engine.Position(objectModel);
        var eventRows = rows.Select(values =>
        {
            var numbers = Enumerable.Repeat(double.NaN, layout.NumberCount).ToArray();
            var texts = new string?[layout.TextCount];
            foreach (var (field, value) in values)
            {
                var slot = layout.Slot(field);
                if (slot.Kind == FieldSlotKind.Text)
                {
                    texts[slot.Index] = (string?)value;
                }
                else
                {
                    numbers[slot.Index] = value switch
                    {
                        null => double.NaN,
                        bool b => b ? 1 : 0,
                        DateTimeOffset t => t.ToUnixTimeMilliseconds(),
                        _ => Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture),
                    };
                }
            }

            return new EventRow(++sequence, (DateTimeOffset)values[model.EventTimeField]!, numbers, texts);
        }).ToArray();
        engine.Apply(objectModel, eventRows);
    }

    private static double Today(ClientKpiEngine engine, string kpiCode)
    {
        var value = engine.Window(kpiCode, KpiWindow.DayToDate, NodaTime.Instant.FromDateTimeOffset(Day0.AddHours(12)));
        Assert.True(value.Value.HasValue, $"{kpiCode}: {value.NoValueReason}");
        return value.Value.Value;
    }

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
