// A postback's conversion value as decoded by its app's schema: kept with the postback as JSON.

interface DecodedEvent {
  name: string;
  min: number;
  max: number;
}

export interface Decode {
  schemaVersion: number;
  currency: string;
  events: DecodedEvent[];
  /** Revenue in micro-units of `currency`, so amounts stay exact. */
  revenueMinMicros: number;
  revenueMaxMicros: number;
}
