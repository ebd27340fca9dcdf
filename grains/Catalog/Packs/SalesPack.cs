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
        "How leads turn into deals and deals into revenue: conversion, win rate, deal size, cycle length, pricing discipline.");

    public static readonly ModuleDefinition[] Modules =
    [
        new("SALES_PIPELINE", "Pipeline", "Leads and opportunities from first contact to won or lost.", Chain),
        new("SALES_PERFORMANCE", "Sales performance", "Booked sales: revenue and discounting.", Chain),
    ];

    public static readonly ObjectModelDefinition[] ObjectModels =
    [
        SnapshotObject(
            "leads", "Leads",
            "Prospective buyers; each new row for a lead replaces the previous one. Placed in time by when the lead was created.",
            Domain, "created_at", ["lead_id"],
            [
                Required("lead_id", Text, "Identifier of the lead."),
                Required("lead_source", Text, "Where the lead came from: 'web', 'referral', 'event', 'outbound' or 'partner'."),
                Required("status", Text, "Status: 'new', 'working', 'qualified', 'converted' or 'disqualified'."),
                Required("converted", FieldType.Boolean, "The lead became an opportunity."),
                Required("created_at", Timestamp, "When the lead was created; never changes for a lead."),
                Optional("converted_at", Timestamp, "When the lead was converted."),
            ]),
        SnapshotObject(
            "opportunities", "Opportunities",
            "Deals being worked; each new row for an opportunity replaces the previous one. Placed in time by when the opportunity was created.",
            Domain, "created_at", ["opportunity_id"],
            [
                Required("opportunity_id", Text, "Identifier of the opportunity."),
                Optional("account_id", Text, "Account the deal is with (crm_data.accounts)."),
                Required("owner_id", Text, "Sales representative who owns the deal."),
                Required("stage", Text, "Stage: 'prospecting', 'qualification', 'proposal', 'negotiation', 'closed_won' or 'closed_lost'."),
                Required("amount", Number, "Expected deal value, in the reporting currency."),
                Required("probability", Number, "Likelihood of winning, 0 to 100, as the sales team estimates it."),
                Required("is_closed", FieldType.Boolean, "The deal is decided, won or lost."),
                Required("is_won", FieldType.Boolean, "The deal was won."),
                Required("created_at", Timestamp, "When the opportunity was created; never changes for an opportunity."),
                Optional("expected_close_at", Timestamp, "When the owner expects the deal to close."),
                Optional("closed_at", Timestamp, "When the deal was won or lost."),
            ]),
        EventObject(
            "sales_transactions", "Sales transactions",
            "Booked sales, one row per product line sold.",
            Domain, "sold_at", ["transaction_id"],
            [
                Required("transaction_id", Text, "Identifier of the sales line."),
                Optional("opportunity_id", Text, "Opportunity the sale came from, when there was one."),
                Required("rep_id", Text, "Sales representative credited with the sale."),
                Required("product_sku", Text, "Product sold."),
                Optional("region", Text, "Sales region."),
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
        Define("SALES_LEAD_CONVERSION_RATE", "Lead Conversion Rate",
            "Share of the leads created in the period that have turned into opportunities.",
            "100 * count(leads) filter (where leads.converted) / count(leads)",
            Units.Percent, HigherIsBetter, "SALES_PIPELINE", Chain, "leads"),
        Define("SALES_WIN_RATE", "Win Rate",
            "Share of decided opportunities that were won, among opportunities created in the period.",
            "100 * count(opportunities) filter (where opportunities.is_won) / count(opportunities) filter (where opportunities.is_closed)",
            Units.Percent, HigherIsBetter, "SALES_PIPELINE", Chain, "opportunities"),
        Define("SALES_AVG_DEAL_SIZE", "Average Deal Size",
            "Average value of won opportunities.",
            "avg(opportunities.amount) filter (where opportunities.is_won)",
            Units.Currency, HigherIsBetter, "SALES_PIPELINE", Chain, "opportunities"),
        Define("SALES_CYCLE_LENGTH", "Sales Cycle Length",
            "Average days from an opportunity being created to it being won.",
            "avg(opportunities.closed_at - opportunities.created_at) filter (where opportunities.is_won and opportunities.closed_at is not null) / 86400000",
            Units.Days, LowerIsBetter, "SALES_PIPELINE", Chain, "opportunities"),
        Define("SALES_OPEN_PIPELINE", "Open Pipeline Value",
            "Total value of opportunities not yet decided.",
            "coalesce(sum(opportunities.amount) filter (where not opportunities.is_closed), 0)",
            Units.Currency, HigherIsBetter, "SALES_PIPELINE", Chain, "opportunities"),
        Define("SALES_WEIGHTED_PIPELINE", "Weighted Pipeline Value",
            "Value of open opportunities, each weighted by its estimated probability of being won.",
            "coalesce(sum(opportunities.amount * opportunities.probability) filter (where not opportunities.is_closed), 0) / 100",
            Units.Currency, HigherIsBetter, "SALES_PIPELINE", Chain, "opportunities"),

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
