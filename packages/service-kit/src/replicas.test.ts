import { describe, expect, it } from "vitest";
import { BaseConfig, ConfigError, loadConfig } from "./config.js";

describe("MLLEAD_STREAM_REPLICAS", () => {
  it("defaults to 1 (unset or empty) and takes 1 to 5", () => {
    expect(loadConfig(BaseConfig, {}).MLLEAD_STREAM_REPLICAS).toBe(1);
    expect(loadConfig(BaseConfig, { MLLEAD_STREAM_REPLICAS: "" }).MLLEAD_STREAM_REPLICAS).toBe(1);
    expect(loadConfig(BaseConfig, { MLLEAD_STREAM_REPLICAS: "3" }).MLLEAD_STREAM_REPLICAS).toBe(3);
    expect(loadConfig(BaseConfig, { MLLEAD_STREAM_REPLICAS: "5" }).MLLEAD_STREAM_REPLICAS).toBe(5);
  });

  it("refuses 0, 6, a fraction and a word, naming the variable", () => {
    for (const bad of ["0", "6", "2.5", "three"]) {
      const load = () => loadConfig(BaseConfig, { MLLEAD_STREAM_REPLICAS: bad });
      expect(load, bad).toThrow(ConfigError);
      expect(load, bad).toThrow(/MLLEAD_STREAM_REPLICAS/);
    }
  });
});
