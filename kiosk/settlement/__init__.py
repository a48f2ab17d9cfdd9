"""A settlement's one owner on the kiosk: the request, its durable outbox row, the first
attempt and every retry, the offline policy, partial outcomes, receipts kept for the batch
totals, for the patient kiosk and the counter alike (``kiosk.settlement.desk``)."""
