// Moved to @mllead/tools, which the scripts share; the tests keep importing it from here.
export * from "@mllead/tools/nats-cluster";
