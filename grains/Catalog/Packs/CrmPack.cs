using static AnalyticsEngine.Catalog.KpiDirection;
using static AnalyticsEngine.Catalog.FieldType;
using static AnalyticsEngine.Catalog.Packs.CatalogDsl;

namespace AnalyticsEngine.Catalog.Packs;

/// <summary>Customer relationship management: accounts, engagement, service and customer experience.</summary>
internal static class CrmPack
{
    public const string Chain = "CRM";
    private const string Domain = "crm_data";

    public static readonly ValueChainDefinition ValueChain = new(
        Chain,
        "Customer relationship management",
        "How customers are won, served and kept: account health, engagement, support quality and loyalty.");

    public static readonly ModuleDefinition[] Modules =
    [
        new("CRM_ACCOUNTS", "Accounts", "Account base and retention, and how actively accounts are worked.", Chain),
        new("CRM_SERVICE", "Customer service", "Support responsiveness and resolution.", Chain),
        new("CRM_EXPERIENCE", "Customer experience", "What customers say: satisfaction and loyalty surveys.", Chain),
    ];

    public static readonly ObjectModelDefinition[] ObjectModels =
    [
        SnapshotObject(
            "accounts", "Accounts",
            "Customer accounts; each new row for an account replaces the previous one. Placed in time by when the account was created, " +
            "so a period holds the cohort of accounts created in it, each in its latest state.",
            Domain, "created_at", ["account_id"],
            [
                Required("account_id", Text, "Identifier of the account in the CRM."),
                Required("account_name", Text, "Display name of the account."),
                Optional("industry", Text, "Industry of the account."),
                Optional("segment", Text, "Segment: 'enterprise', 'mid_market' or 'smb'."),
                Required("status", Text, "Lifecycle status: 'prospect', 'active' or 'churned'."),
                Optional("annual_contract_value", Number, "Contracted yearly value of the account, in the reporting currency."),
                Required("created_at", Timestamp, "When the account was created; never changes for an account."),
                Optional("churned_at", Timestamp, "When the account was lost; empty while it is a customer."),
            ]),
        EventObject(
            "activities", "Activities",
            "Sales and account-management touches: calls, emails, meetings, demos.",
            Domain, "occurred_at", ["activity_id"],
            [
                Required("activity_id", Text, "Identifier of the activity."),
                Required("account_id", Text, "Account the activity was with."),
                Required("owner_id", Text, "Employee who performed the activity."),
                Required("activity_type", Text, "Kind of touch: 'call', 'email', 'meeting' or 'demo'."),
                Required("occurred_at", Timestamp, "When the activity took place; places it in time."),
                Optional("duration_minutes", Number, "Length of the activity in minutes."),
            ],
            RefersTo("account_id", "accounts", "account_id")),
        SnapshotObject(
            "support_cases", "Support cases",
            "Customer support cases; each new row for a case replaces the previous one. Placed in time by when the case was opened.",
            Domain, "opened_at", ["case_id"],
            [
                Required("case_id", Text, "Identifier of the case."),
                Required("account_id", Text, "Account that raised the case."),
                Required("priority", Text, "Priority: 'low', 'medium', 'high' or 'urgent'."),
                Required("status", Text, "Status: 'open', 'pending', 'resolved' or 'closed'."),
                Required("opened_at", Timestamp, "When the case was opened; never changes for a case."),
                Optional("first_response_at", Timestamp, "When the customer first got a reply from support."),
                Optional("resolved_at", Timestamp, "When the case was resolved; empty while unresolved."),
                Required("escalated", FieldType.Boolean, "The case was escalated beyond first-line support."),
                Optional("satisfaction_score", Integer, "Customer satisfaction rating after resolution, 1 (poor) to 5 (excellent)."),
            ],
            RefersTo("account_id", "accounts", "account_id")),
        EventObject(
            "survey_responses", "Survey responses",
            "Answers to the Net Promoter question 'how likely are you to recommend us', one row per response.",
            Domain, "responded_at", ["response_id"],
            [
                Required("response_id", Text, "Identifier of the response."),
                Required("account_id", Text, "Account of the respondent."),
                Required("responded_at", Timestamp, "When the response was given; places it in time."),
                Required("nps_score", Integer, "Likelihood to recommend, 0 to 10."),
                Optional("channel", Text, "Where the survey was answered: 'email', 'in_app' or 'phone'."),
            ],
            RefersTo("account_id", "accounts", "account_id")),
    ];

    public static readonly KpiDefinition[] Kpis =
    [
        Define("CRM_ACTIVE_ACCOUNTS", "Active Accounts",
            "Number of accounts, among those created in the period, that are currently active customers.",
            "count(accounts) filter (where accounts.status = 'active')",
            Units.Count, HigherIsBetter, "CRM_ACCOUNTS", Chain, "accounts"),
        Define("CRM_CHURN_RATE", "Account Churn Rate",
            "Share of the accounts that became customers and have since been lost, over the accounts created in the period that are or were customers.",
            "100 * count(accounts) filter (where accounts.status = 'churned') / count(accounts) filter (where accounts.status in ('active', 'churned'))",
            Units.Percent, LowerIsBetter, "CRM_ACCOUNTS", Chain, "accounts"),
        Define("CRM_ACTIVITIES_PER_ACCOUNT", "Activities per Engaged Account",
            "Average number of calls, emails, meetings and demos per account touched in the period.",
            "count(activities) / count_distinct(activities.account_id)",
            Units.Count, HigherIsBetter, "CRM_ACCOUNTS", Chain, "activities"),

        Define("CRM_FIRST_RESPONSE_TIME", "Average First Response Time",
            "Average hours from a case being opened to the customer's first reply, over cases opened in the period that have been answered.",
            "avg(support_cases.first_response_at - support_cases.opened_at) filter (where support_cases.first_response_at is not null) / 3600000",
            Units.Hours, LowerIsBetter, "CRM_SERVICE", Chain, "support_cases"),
        Define("CRM_RESOLUTION_TIME", "Average Resolution Time",
            "Average hours from a case being opened to its resolution, over resolved cases opened in the period.",
            "avg(support_cases.resolved_at - support_cases.opened_at) filter (where support_cases.resolved_at is not null) / 3600000",
            Units.Hours, LowerIsBetter, "CRM_SERVICE", Chain, "support_cases"),
        Define("CRM_ESCALATION_RATE", "Case Escalation Rate",
            "Share of cases opened in the period that had to be escalated beyond first-line support.",
            "100 * count(support_cases) filter (where support_cases.escalated) / count(support_cases)",
            Units.Percent, LowerIsBetter, "CRM_SERVICE", Chain, "support_cases"),

        Define("CRM_CSAT", "Customer Satisfaction (CSAT)",
            "Share of rated support cases where the customer gave 4 or 5 out of 5.",
            "100 * count(support_cases) filter (where support_cases.satisfaction_score >= 4) / count(support_cases) filter (where support_cases.satisfaction_score is not null)",
            Units.Percent, HigherIsBetter, "CRM_EXPERIENCE", Chain, "support_cases"),
        Define("CRM_NPS", "Net Promoter Score",
            "Promoters (9-10) minus detractors (0-6) as a share of all survey responses, from -100 to 100.",
            "100 * (count(survey_responses) filter (where survey_responses.nps_score >= 9) - count(survey_responses) filter (where survey_responses.nps_score <= 6)) / count(survey_responses)",
            Units.Score, HigherIsBetter, "CRM_EXPERIENCE", Chain, "survey_responses"),
    ];
}
