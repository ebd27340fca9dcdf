using static AnalyticsEngine.Catalog.KpiDirection;
using static AnalyticsEngine.Catalog.FieldType;
using static AnalyticsEngine.Catalog.Packs.CatalogDsl;

namespace AnalyticsEngine.Catalog.Packs;

/// <summary>Financial analytics: profit and loss from the ledger, working capital, budget adherence.</summary>
internal static class FinancialPack
{
    public const string Chain = "FINANCIAL";
    private const string Domain = "financial_data";

    public static readonly ValueChainDefinition ValueChain = new(
        Chain,
        "Financial analytics",
        "Margins from the general ledger, how fast cash comes in and goes out, and spending against budget.");

    public static readonly ModuleDefinition[] Modules =
    [
        new("FIN_PROFIT_AND_LOSS", "Profit and loss", "Revenue and margins from posted ledger entries.", Chain),
        new("FIN_WORKING_CAPITAL", "Working capital", "Receivables and payables: collection speed and payment discipline.", Chain),
        new("FIN_BUDGET", "Budget", "Actual spending against the approved budget.", Chain),
    ];

    // Ledger amounts are positive in the natural direction of their category (income as income, costs as costs),
    // so margins need no sign juggling in the formulas.
    private const string Categories =
        "'revenue', 'cost_of_sales', 'operating_expense', 'other_income', 'other_expense' or 'tax'";

    public static readonly ObjectModelDefinition[] ObjectModels =
    [
        EventObject(
            "ledger_entries", "Ledger entries",
            "Posted general-ledger lines of the profit-and-loss accounts.",
            Domain, "posted_at", ["entry_id"],
            [
                Required("entry_id", Text, "Identifier of the ledger line."),
                Required("account_code", Text, "General-ledger account the line is posted to."),
                Required("account_category", Text, $"Profit-and-loss category of the account: {Categories}."),
                Required("amount", Number, "Amount in the reporting currency, positive in the category's natural direction; a reversal is negative."),
                Optional("cost_center", Text, "Cost centre charged."),
                Required("posted_at", Timestamp, "Accounting date of the line; places it in time."),
            ]),
        SnapshotObject(
            "receivables", "Receivables",
            "Customer invoices with their payment state; each new row for an invoice replaces the previous one. Placed in time by the issue date.",
            Domain, "issued_at", ["invoice_id"],
            [
                Required("invoice_id", Text, "Identifier of the customer invoice."),
                Required("customer_id", Text, "Customer billed."),
                Required("amount", Number, "Invoiced amount, in the reporting currency."),
                Required("amount_paid", Number, "Amount received so far, in the reporting currency."),
                Required("issued_at", Timestamp, "When the invoice was issued; never changes for an invoice."),
                Required("due_at", Timestamp, "Payment due date."),
                Optional("paid_at", Timestamp, "When the invoice was paid in full; empty while open."),
                Required("status", Text, "Status: 'open', 'paid' or 'written_off'."),
            ]),
        SnapshotObject(
            "payables", "Payables",
            "Supplier bills with their payment state; each new row for a bill replaces the previous one. Placed in time by the date the bill was received.",
            Domain, "received_at", ["bill_id"],
            [
                Required("bill_id", Text, "Identifier of the supplier bill."),
                Required("supplier_id", Text, "Supplier that sent the bill."),
                Required("amount", Number, "Billed amount, in the reporting currency."),
                Required("received_at", Timestamp, "When the bill was received; never changes for a bill."),
                Required("due_at", Timestamp, "Payment due date."),
                Optional("paid_at", Timestamp, "When the bill was paid; empty while open."),
                Required("status", Text, "Status: 'open', 'paid' or 'disputed'."),
            ]),
        SnapshotObject(
            "budget_lines", "Budget lines",
            "Approved budget per category and budget period; a revised line replaces the previous one. " +
            "Placed in time by the first day of its period, so compare with actuals at month granularity or coarser.",
            Domain, "period_start", ["budget_line_id"],
            [
                Required("budget_line_id", Text, "Identifier of the budget line."),
                Required("account_category", Text, $"Profit-and-loss category budgeted: {Categories}."),
                Optional("cost_center", Text, "Cost centre the budget belongs to."),
                Required("period_start", Timestamp, "First instant of the budget period; never changes for a line."),
                Required("budget_amount", Number, "Budgeted amount, in the reporting currency, in the category's natural direction."),
            ]),
    ];

    private const string Revenue = "sum(ledger_entries.amount) filter (where ledger_entries.account_category = 'revenue')";

    public static readonly KpiDefinition[] Kpis =
    [
        Define("FIN_REVENUE", "Revenue",
            "Revenue posted to the ledger in the period.",
            $"coalesce({Revenue}, 0)",
            Units.Currency, HigherIsBetter, "FIN_PROFIT_AND_LOSS", Chain, "ledger_entries"),
        Define("FIN_GROSS_MARGIN", "Gross Margin",
            "Revenue left after the cost of sales, as a share of revenue.",
            $"100 * ({Revenue} - coalesce(sum(ledger_entries.amount) filter (where ledger_entries.account_category = 'cost_of_sales'), 0)) / {Revenue}",
            Units.Percent, HigherIsBetter, "FIN_PROFIT_AND_LOSS", Chain, "ledger_entries"),
        Define("FIN_OPERATING_MARGIN", "Operating Margin",
            "Revenue left after the cost of sales and operating expenses, as a share of revenue.",
            $"100 * ({Revenue} - coalesce(sum(ledger_entries.amount) filter (where ledger_entries.account_category in ('cost_of_sales', 'operating_expense')), 0)) / {Revenue}",
            Units.Percent, HigherIsBetter, "FIN_PROFIT_AND_LOSS", Chain, "ledger_entries"),
        Define("FIN_NET_MARGIN", "Net Margin",
            "Net profit (all income less all costs, other items and tax) as a share of revenue.",
            $"100 * (coalesce(sum(ledger_entries.amount) filter (where ledger_entries.account_category in ('revenue', 'other_income')), 0) - " +
            "coalesce(sum(ledger_entries.amount) filter (where ledger_entries.account_category in ('cost_of_sales', 'operating_expense', 'other_expense', 'tax')), 0)) / " +
            Revenue,
            Units.Percent, HigherIsBetter, "FIN_PROFIT_AND_LOSS", Chain, "ledger_entries"),

        Define("FIN_AVG_COLLECTION_DAYS", "Average Collection Period",
            "Average days from issuing a customer invoice to it being paid, over paid invoices issued in the period.",
            "avg(receivables.paid_at - receivables.issued_at) filter (where receivables.paid_at is not null) / 86400000",
            Units.Days, LowerIsBetter, "FIN_WORKING_CAPITAL", Chain, "receivables"),
        Define("FIN_COLLECTION_RATE", "Collection Rate",
            "Cash received as a share of the amount invoiced, over invoices issued in the period.",
            "100 * sum(receivables.amount_paid) / sum(receivables.amount)",
            Units.Percent, HigherIsBetter, "FIN_WORKING_CAPITAL", Chain, "receivables"),
        Define("FIN_LATE_PAYMENT_RATE", "Customer Late Payment Rate",
            "Share of paid customer invoices that were paid after their due date.",
            "100 * count(receivables) filter (where receivables.paid_at > receivables.due_at) / count(receivables) filter (where receivables.paid_at is not null)",
            Units.Percent, LowerIsBetter, "FIN_WORKING_CAPITAL", Chain, "receivables"),
        Define("FIN_OPEN_RECEIVABLES", "Open Receivables",
            "Amount still owed on open customer invoices issued in the period.",
            "coalesce(sum(receivables.amount - receivables.amount_paid) filter (where receivables.status = 'open'), 0)",
            Units.Currency, LowerIsBetter, "FIN_WORKING_CAPITAL", Chain, "receivables"),
        Define("FIN_BILLS_PAID_ON_TIME", "Bills Paid on Time",
            "Share of paid supplier bills that were paid by their due date.",
            "100 * count(payables) filter (where payables.paid_at <= payables.due_at) / count(payables) filter (where payables.paid_at is not null)",
            Units.Percent, HigherIsBetter, "FIN_WORKING_CAPITAL", Chain, "payables"),

        Define("FIN_OPEX_BUDGET_VARIANCE", "Operating Expense Budget Variance",
            "Operating expenses over (positive) or under (negative) budget, as a share of the budget. Read at month granularity or coarser.",
            "100 * (coalesce(sum(ledger_entries.amount) filter (where ledger_entries.account_category = 'operating_expense'), 0) - " +
            "sum(budget_lines.budget_amount) filter (where budget_lines.account_category = 'operating_expense')) / " +
            "sum(budget_lines.budget_amount) filter (where budget_lines.account_category = 'operating_expense')",
            Units.Percent, LowerIsBetter, "FIN_BUDGET", Chain, "ledger_entries", "budget_lines"),
    ];
}
