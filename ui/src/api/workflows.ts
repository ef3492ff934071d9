// Workflow actions shared by pages and the editor.
import { toast } from "../components/toasts";
import { call, errorMessage } from "./client";

/** Activates or pauses a workflow, telling the user how it went; true when it worked. */
export async function setActive(id: string, name: string, active: boolean): Promise<boolean> {
  try {
    await call("workflow_activate", { id, active });
    toast(active ? `“${name}” is active` : `“${name}” is paused`, "success");
    return true;
  } catch (e) {
    toast(errorMessage(e), "error");
    return false;
  }
}
