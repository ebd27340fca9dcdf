using static AnalyticsEngine.Catalog.KpiDirection;
using static AnalyticsEngine.Catalog.FieldType;
using static AnalyticsEngine.Catalog.Packs.CatalogDsl;

namespace AnalyticsEngine.Catalog.Packs;

/// <summary>Sales analytics: the pipeline from lead to closed deal, and what is actually sold.</summary>
internal static class SalesPack
{
    public const string Chain = "SALES";
    private const string Domain = "sales_data";

    public static readonly ValueChainDefinition ValueChain = new(
        Chain,
        "Sales analytics",
        "How leads turn into deals and deals into revenue: pipeline, win rate, deal size, cycle length, pricing discipline.");

    public static readonly ModuleDefinition[] Modules =
    [
        new("SALES_PIPELINE", "Pipeline", "Leads coming in and the value of deals still being worked.", Chain),
        new("SALES_DEALS", "Deals", "Deals decided: win rate, size and how long they take.", Chain),
        new("SALES_PERFORMANCE", "Sales performance", "Booked sales: revenue and discounting.", Chain),
    ];

    public static readonly ObjectModelDefinition[] ObjectModels =
    [
        EventObject(
            "leads", "Leads",
            "New prospective buyers, one row when a lead is created.",
            Domain, "created_at", ["lead_id"],
            [
                Required("lead_id", Text, "Identifier of the lead."),
                Required("lead_source", Text, "Where the lead came from: 'web', 'referral', 'event', 'outbound' or 'partner'.").AsDimension(),
                Optional("owner_id", Text, "Sales representative the lead was assigned to."),
                Required("created_at", Timestamp, "When the lead was created; places it in time."),
            ]),
        SnapshotObject(
            "opportunities", "Opportunities",
            $"Deals being worked. {SnapshotRule}",
            Domain, "updated_at", ["opportunity_id"],
            [
                Required("opportunity_id", Text, "Identifier of the opportunity."),
                Optional("account_id", Text, "Account the deal is with (crm_data.accounts)."),
                Required("owner_id", Text, "Sales representative who owns the deal."),
                Required("stage", Text, "Stage: 'prospecting', 'qualification', 'proposal', 'negotiation', 'closed_won' or 'closed_lost'."),
                Required("amount", Number, "Expected deal value, in the reporting currency."),
                Required("probability", Number, "Likelihood of winning, 0 to 100, as the sales team estimates it."),
                Required("is_closed", FieldType.Boolean, "The deal is decided, won or lost."),
                Required("created_at", Timestamp, "When the opportunity was created."),
                Optional("expected_close_at", Timestamp, "When the owner expects the deal to close."),
                Required("updated_at", Timestamp, "When this state of the opportunity became true; a later row replaces it from then on."),
            ]),
        EventObject(
            "closed_deals", "Closed deals",
            "Opportunities decided, won or lost, one row when the deal closes.",
            Domain, "closed_at", ["opportunity_id"],
            [
                Required("opportunity_id", Text, "Opportunity that closed."),
                Required("owner_id", Text, "Sales representative who owned the deal."),
                Required("is_won", FieldType.Boolean, "The deal was won; false when lost."),
                Required("amount", Number, "Final deal value (expected value when lost), in the reporting currency."),
                Optional("lead_source", Text, "Where the deal's lead came from: 'web', 'referral', 'event', 'outbound' or 'partner'.").AsDimension(),
                Required("opened_at", Timestamp, "When the opportunity was created."),
                Required("closed_at", Timestamp, "When the deal was won or lost; places it in time."),
                Optional("loss_reason", Text, "Why a lost deal was lost."),
            ],
            RefersTo("opportunity_id", "opportunities", "opportunity_id")),
        EventObject(
            "sales_transactions", "Sales transactions",
            "Booked sales, one row per product line sold.",
            Domain, "sold_at", ["transaction_id"],
            [
                Required("transaction_id", Text, "Identifier of the sales line."),
                Optional("opportunity_id", Text, "Opportunity the sale came from, when there was one."),
                Required("rep_id", Text, "Sales representative credited with the sale."),
                Required("product_sku", Text, "Product sold."),
                Optional("region", Text, "Sales region.").AsDimension(),
                Required("sold_at", Timestamp, "When the sale was booked; places it in time."),
                Required("quantity", Integer, "Units sold."),
                Required("unit_price", Number, "List price per unit, in the reporting currency."),
                Required("discount_amount", Number, "Total discount granted on the line, in the reporting currency."),
                Required("net_amount", Number, "Amount invoiced for the line after discount, in the reporting currency."),
            ],
            RefersTo("opportunity_id", "opportunities", "opportunity_id")),
    ];

    public static readonly KpiDefinition[] Kpis =
    [
        Define("SALES_NEW_LEADS", "New Leads",
            "Number of leads created in the period.",
            "count(leads)",
            Units.Count, HigherIsBetter, "SALES_PIPELINE", Chain, "leads"),
        Define("SALES_LEAD_TO_WIN_RATIO", "Lead-to-Win Ratio",
            "Deals won in the period per hundred leads created in the same period: how much new business the lead flow sustains.",
            "100 * count(closed_deals) filter (where closed_deals.is_won) / count(leads)",
            Units.Percent, HigherIsBetter, "SALES_PIPELINE", Chain, "closed_deals", "leads"),
        Define("SALES_OPEN_PIPELINE", "Open Pipeline Value",
            "Total value of the opportunities still open at the end of the period.",
            "coalesce(sum(opportunities.amount) filter (where not opportunities.is_closed), 0)",
            Units.Currency, HigherIsBetter, "SALES_PIPELINE", Chain, "opportunities"),
        Define("SALES_WEIGHTED_PIPELINE", "Weighted Pipeline Value",
            "Value of the opportunities open at the end of the period, each weighted by its estimated probability of being won.",
            "coalesce(sum(opportunities.amount * opportunities.probability) filter (where not opportunities.is_closed), 0) / 100",
            Units.Currency, HigherIsBetter, "SALES_PIPELINE", Chain, "opportunities"),

        Define("SALES_WIN_RATE", "Win Rate",
            "Share of the deals decided in the period that were won.",
            "100 * count(closed_deals) filter (where closed_deals.is_won) / count(closed_deals)",
            Units.Percent, HigherIsBetter, "SALES_DEALS", Chain, "closed_deals"),
        Define("SALES_AVG_DEAL_SIZE", "Average Deal Size",
            "Average value of the deals won in the period.",
            "avg(closed_deals.amount) filter (where closed_deals.is_won)",
            Units.Currency, HigherIsBetter, "SALES_DEALS", Chain, "closed_deals"),
        Define("SALES_CYCLE_LENGTH", "Sales Cycle Length",
            "Average days from an opportunity being created to it being won, over deals won in the period.",
            "avg(closed_deals.closed_at - closed_deals.opened_at) filter (where closed_deals.is_won) / 86400000",
            Units.Days, LowerIsBetter, "SALES_DEALS", Chain, "closed_deals"),

        Define("SALES_REVENUE", "Sales Revenue",
            "Net amount of the sales booked in the period, after discounts.",
            "coalesce(sum(sales_transactions.net_amount), 0)",
            Units.Currency, HigherIsBetter, "SALES_PERFORMANCE", Chain, "sales_transactions"),
        Define("SALES_AVG_DISCOUNT_RATE", "Average Discount Rate",
            "Discounts granted as a share of the list value of what was sold.",
            "100 * sum(sales_transactions.discount_amount) / sum(sales_transactions.quantity * sales_transactions.unit_price)",
            Units.Percent, LowerIsBetter, "SALES_PERFORMANCE", Chain, "sales_transactions"),
    ];
}
