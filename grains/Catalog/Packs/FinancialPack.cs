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
        new("FIN_WORKING_CAPITAL", "Working capital", "Cash in from customers and out to suppliers: collection speed, amounts owed, payment discipline.", Chain),
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
                Required("account_category", Text, $"Profit-and-loss category of the account: {Categories}.").AsDimension(),
                Required("amount", Number, "Amount in the reporting currency, positive in the category's natural direction; a reversal is negative."),
                Optional("cost_center", Text, "Cost centre charged.").AsDimension(),
                Required("posted_at", Timestamp, "Accounting date of the line; places it in time."),
            ]),
        SnapshotObject(
            "receivables", "Receivables",
            $"Customer invoices with what is still owed on them. {SnapshotRule}",
            Domain, "updated_at", ["invoice_id"],
            [
                Required("invoice_id", Text, "Identifier of the customer invoice."),
                Required("customer_id", Text, "Customer billed."),
                Required("amount", Number, "Invoiced amount, in the reporting currency."),
                Required("amount_paid", Number, "Amount received so far, in the reporting currency."),
                Required("issued_at", Timestamp, "When the invoice was issued."),
                Required("due_at", Timestamp, "Payment due date."),
                Required("status", Text, "Status: 'open', 'paid' or 'written_off'."),
                Required("updated_at", Timestamp, "When this state of the invoice became true; a later row replaces it from then on."),
            ]),
        EventObject(
            "customer_payments", "Customer payments",
            "Cash received from customers, one row per payment applied to an invoice.",
            Domain, "paid_at", ["payment_id"],
            [
                Required("payment_id", Text, "Identifier of the payment."),
                Required("invoice_id", Text, "Invoice the payment settles (fully or in part)."),
                Required("customer_id", Text, "Customer who paid."),
                Required("amount", Number, "Amount received, in the reporting currency."),
                Required("invoice_issued_at", Timestamp, "When the invoice paid was issued."),
                Required("invoice_due_at", Timestamp, "When the invoice paid was due."),
                Required("paid_at", Timestamp, "When the cash was received; places the payment in time."),
            ],
            RefersTo("invoice_id", "receivables", "invoice_id")),
        EventObject(
            "supplier_payments", "Supplier payments",
            "Cash paid to suppliers, one row per payment of a supplier bill.",
            Domain, "paid_at", ["payment_id"],
            [
                Required("payment_id", Text, "Identifier of the payment."),
                Required("bill_id", Text, "Supplier bill the payment settles."),
                Required("supplier_id", Text, "Supplier paid."),
                Required("amount", Number, "Amount paid, in the reporting currency."),
                Required("bill_due_at", Timestamp, "When the bill was due."),
                Required("paid_at", Timestamp, "When the payment was made; places it in time."),
            ]),
        EventObject(
            "budget_lines", "Budget lines",
            "Approved budget per category and budget period, counted at the first instant of its period. " +
            "A revision is sent as a further line with the difference. Compare with actuals over whole budget periods.",
            Domain, "period_start", ["budget_line_id"],
            [
                Required("budget_line_id", Text, "Identifier of the budget line."),
                Required("account_category", Text, $"Profit-and-loss category budgeted: {Categories}."),
                Optional("cost_center", Text, "Cost centre the budget belongs to."),
                Required("period_start", Timestamp, "First instant of the budget period; places the line in time."),
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

        Define("FIN_CASH_COLLECTED", "Cash Collected",
            "Cash received from customers in the period.",
            "coalesce(sum(customer_payments.amount), 0)",
            Units.Currency, HigherIsBetter, "FIN_WORKING_CAPITAL", Chain, "customer_payments"),
        Define("FIN_AVG_COLLECTION_DAYS", "Average Collection Period",
            "Average days from issuing a customer invoice to receiving its payment, weighted by amount, over payments received in the period.",
            "sum((customer_payments.paid_at - customer_payments.invoice_issued_at) * customer_payments.amount) / sum(customer_payments.amount) / 86400000",
            Units.Days, LowerIsBetter, "FIN_WORKING_CAPITAL", Chain, "customer_payments"),
        Define("FIN_LATE_PAYMENT_RATE", "Customer Late Payment Rate",
            "Share of the cash received in the period that arrived after the invoice's due date.",
            "100 * coalesce(sum(customer_payments.amount) filter (where customer_payments.paid_at > customer_payments.invoice_due_at), 0) / sum(customer_payments.amount)",
            Units.Percent, LowerIsBetter, "FIN_WORKING_CAPITAL", Chain, "customer_payments"),
        Define("FIN_OPEN_RECEIVABLES", "Open Receivables",
            "Amount customers still owe on open invoices at the end of the period.",
            "coalesce(sum(receivables.amount - receivables.amount_paid) filter (where receivables.status = 'open'), 0)",
            Units.Currency, LowerIsBetter, "FIN_WORKING_CAPITAL", Chain, "receivables"),
        Define("FIN_BILLS_PAID_ON_TIME", "Bills Paid on Time",
            "Share of the money paid to suppliers in the period that was paid by the bill's due date.",
            "100 * coalesce(sum(supplier_payments.amount) filter (where supplier_payments.paid_at <= supplier_payments.bill_due_at), 0) / sum(supplier_payments.amount)",
            Units.Percent, HigherIsBetter, "FIN_WORKING_CAPITAL", Chain, "supplier_payments"),

        Define("FIN_OPEX_BUDGET_VARIANCE", "Operating Expense Budget Variance",
            "Operating expenses over (positive) or under (negative) budget, as a share of the budget. Read over whole budget periods (e.g. month to date at month end).",
            "100 * (coalesce(sum(ledger_entries.amount) filter (where ledger_entries.account_category = 'operating_expense'), 0) - " +
            "sum(budget_lines.budget_amount) filter (where budget_lines.account_category = 'operating_expense')) / " +
            "sum(budget_lines.budget_amount) filter (where budget_lines.account_category = 'operating_expense')",
            Units.Percent, LowerIsBetter, "FIN_BUDGET", Chain, "ledger_entries", "budget_lines"),
    ];
}
