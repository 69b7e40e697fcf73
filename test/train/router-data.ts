/**
 * Seeded generator of extra training prompts for the task router (test/train/router.ts), written for sluice.
 *
 * Why: the training sources ask in their own fixed phrasings (benchmark templates: "Write a function that…",
 * T0's "Answer the question…", MMLU's options), so a model trained on them alone learns the phrasing of each
 * source, not the task — and people ask differently: "how can I …", "i need to …", "is there a way to …". Here
 * the same casual frames carry the content of several tasks (a programming chore, an everyday question, a
 * choice to weigh, a piece to write, a sum), so the frame says nothing and the content has to decide: any
 * programming, scripting or tooling work is code_generation, an everyday or factual how/why is
 * question_answering, weighing options is analysis. Programming asks also come inside a project ("I'm building
 * …. How can I …?") or about pasted code, as real coding prompts do. The lists below are general knowledge, not taken from any
 * dev or evaluation set; the same seed gives the same prompts. `bun test/train/router-data.ts [n]` prints a sample.
 */
import { seededRandom } from "../support/random.ts";
import type { TaskType } from "../../src/routing/task-features.ts";

export interface GeneratedPrompt {
  text: string;
  label: TaskType;
  source: string;
  /** the system prompt, when the task is set there rather than in the user's turn */
  system?: string;
}

const ASK_FRAMES = [
  "How do I {x}?",
  "how do i {x}",
  "How can I {x}?",
  "how can i {x}?",
  "What's the best way to {x}?",
  "What is the easiest way to {x}?",
  "I need to {x}.",
  "i need to {x}",
  "I want to {x}. Where do I start?",
  "Can you help me {x}?",
  "Is there a way to {x}?",
  "Show me how to {x}.",
  "Explain how to {x}.",
  "I'm trying to {x} but I keep getting stuck.",
  "Any tips to {x}?",
  "Please tell me how to {x}.",
  "Help me {x}.",
  "I have a problem: I can't {x}. What should I do?",
  "Give me step by step instructions to {x}.",
  "What steps should I follow to {x}?",
  "{X}: how?",
  "Quick question - how to {x}?",
];

const LANGUAGES = [
  "Python", "JavaScript", "TypeScript", "Java", "C#", "C++", "C", "Go", "Rust", "Kotlin", "Swift", "PHP", "Ruby",
  "Scala", "R", "MATLAB", "Julia", "Dart", "Elixir", "Haskell", "Lua", "Perl", "Bash", "PowerShell", "SQL",
  "VBA", "Objective-C", "Clojure", "F#", "Zig", "assembly",
];
const TOOLS = [
  "React", "Vue", "Angular", "Next.js", "Django", "Flask", "FastAPI", "Spring Boot", "Express", "Node.js", "Rails",
  "Laravel", ".NET", "Flutter", "Unity", "Unreal Engine", "pandas", "NumPy", "PyTorch", "TensorFlow", "scikit-learn",
  "Docker", "Kubernetes", "Terraform", "Ansible", "Git", "GitHub Actions", "Jenkins", "nginx", "Apache", "PostgreSQL",
  "MySQL", "MongoDB", "Redis", "Elasticsearch", "Kafka", "RabbitMQ", "AWS Lambda", "S3", "Azure Functions",
  "Google Cloud", "Firebase", "Excel formulas", "Google Sheets", "Power BI", "Tailwind", "CSS", "HTML", "webpack",
  "Vite", "jQuery", "GraphQL", "gRPC", "OpenCV", "Selenium", "Playwright", "Jest", "pytest", "JUnit", "Linux",
  "Windows", "macOS", "the terminal", "vim", "VS Code", "Arduino", "Raspberry Pi", "LangChain", "Hugging Face",
  "Spark", "Airflow", "dbt", "Snowflake", "BigQuery", "Godot", "Blender scripting", "WordPress", "Shopify",
];
const CODE_TASKS = [
  "read a CSV file and group the rows by a column", "parse a JSON response from an API", "sort a list of objects by two keys",
  "remove duplicates from a list while keeping the order", "connect to a database and run a parameterised query",
  "retry an HTTP request with exponential backoff", "set a timeout on a network call", "upload a file to cloud storage",
  "mock a module in my unit tests", "write unit tests for a class that talks to a database", "debounce a search input",
  "center an element horizontally and vertically", "make a table scroll horizontally on mobile",
  "run a job every night at midnight", "run several tasks in parallel and wait for all of them",
  "stream a large file without loading it into memory", "find what is leaking memory in my service",
  "speed up a slow query that joins three tables", "add pagination to a REST endpoint", "hash and check passwords",
  "validate an email address", "write a regex that matches dates like 2024-01-31", "convert a string to a date",
  "merge two dictionaries", "flatten a nested list", "read environment variables safely", "log errors to a file",
  "deploy my app with zero downtime", "build a Docker image that is smaller", "cache the results of an expensive function",
  "send an email with an attachment", "scrape a web page that needs a login", "resize all images in a folder",
  "detect straight lines in an image", "find the closest match to a vector in a large dataset",
  "implement a binary search tree with insert and delete", "implement LRU caching", "reverse a linked list",
  "compute the shortest path in a weighted graph", "implement a rate limiter", "build a command-line tool with subcommands",
  "handle file uploads in a web form", "add authentication with JWT tokens", "set up CI that runs the tests on every push",
  "profile a slow function", "fix a race condition between two threads", "handle a signal that interrupts a blocking read",
  "allocate memory on the stack for local variables", "call a C library from my code", "serialise an object to XML",
  "read from the serial port", "draw a chart of monthly sales", "train a classifier on my own data",
  "fine-tune a small language model", "split a dataset into train and test sets", "export a table to Excel",
  "write a macro that copies rows to another sheet", "make a button that toggles dark mode", "animate a progress bar",
  "create a new branch and move my last commit to it", "undo a git rebase", "resolve merge conflicts",
  "rename thousands of files with a pattern", "update only the changed files in a backup archive",
  "run a GUI application on a server without a display", "forward a port over SSH", "free up disk space used by logs",
  "make my script accept arguments from the command line", "package my library so others can install it",
  "generate a PDF report from a template", "build a chatbot that answers questions about my documents",
  "implement drag and drop", "store user settings locally", "write a game loop that runs at 60 frames per second",
  "detect collisions between sprites", "compute a moving average over a stream of numbers",
];
const CODE_ARTIFACT_ASKS = [
  "Write a {lang} function that {task}.", "write {lang} code to {task}", "Give me a {lang} script that {task}.",
  "Create a {tool} component that {task}.", "Build a small {tool} app that {task}.", "I need a {lang} snippet to {task}.",
  "Can you write code in {lang} that {task}?", "Show me an example in {lang}: {task}.",
  "Implement this in {lang}: {task}.", "Make a {lang} class that {task}.",
];
const CODE_TASKS_3P = [
  "checks if a string is a palindrome", "downloads every image linked from a page", "counts words in a text file",
  "turns a CSV into JSON", "watches a folder and reacts to new files", "converts temperatures between units",
  "sends a notification when a website changes", "plays tic-tac-toe against the user", "validates a credit card number with the Luhn check",
  "generates random secure passwords", "merges overlapping intervals", "finds the median of two sorted arrays",
  "computes the n-th Fibonacci number quickly", "parses log lines and reports the slowest requests",
  "simulates a bank account with deposits and withdrawals", "renders a todo list with add and delete",
  "responds to mentions in a chat room", "keeps a leaderboard of the top ten scores", "draws a square with rounded corners",
  "reads sensor values and prints their average every second", "implements a simple key-value store over HTTP",
];
const ERRORS = [
  "TypeError: Cannot read properties of undefined (reading 'map')", "ModuleNotFoundError: No module named 'requests'",
  "Segmentation fault (core dumped)", "java.lang.NullPointerException", "error[E0382]: borrow of moved value: `v`",
  "IndentationError: unexpected indent", "SyntaxError: Unexpected token '<'", "CORS policy: No 'Access-Control-Allow-Origin' header",
  "fatal: refusing to merge unrelated histories", "permission denied (publickey)", "undefined reference to `main'",
  "ValueError: could not convert string to float", "OutOfMemoryError: Java heap space", "KeyError: 'id'",
  "npm ERR! code ERESOLVE", "docker: Error response from daemon: port is already allocated",
];
const ERROR_FRAMES = [
  "I get this error when I run my {lang} program: {error}. How do I fix it?", "{error}\n\nwhat does this mean and how do I fix it",
  "Why am I getting \"{error}\" in {tool}?", "My build fails with {error}. Any idea?", "getting {error} — help",
];

// everyday and factual how / why: question_answering
const EVERYDAY_TASKS = [
  "renew my passport", "get rid of fruit flies in the kitchen", "remove a red wine stain from a carpet",
  "lower my cholesterol", "fall asleep faster", "keep basil alive indoors", "change a flat tyre", "unclog a drain without chemicals",
  "apply for a driving licence", "tie a bowline knot", "cook rice so it is not sticky", "clean a cast iron pan",
  "get a refund for a cancelled flight", "stop my dog barking at night", "register to vote", "freeze fresh herbs",
  "treat a mild sunburn", "keep my phone battery healthy", "save money on groceries", "prepare for a job interview",
  "grow tomatoes on a balcony", "descale a kettle", "recover from jet lag", "ask for a raise", "choose running shoes",
  "learn to swim as an adult", "make sourdough starter", "pay less tax legally as a freelancer", "improve my credit score",
];
const FACT_QUESTIONS = [
  "Why is the sky blue?", "what causes the seasons", "Who wrote Pride and Prejudice?", "How far is the Moon from Earth?",
  "When did the Berlin Wall fall?", "What is the capital of Australia?", "why do cats purr", "How do vaccines work?",
  "What is the difference between a virus and a bacterium?", "How many bones are in the human body?",
  "what does a central bank do", "How do airplanes stay in the air?", "Which planet has the most moons?",
  "What language is spoken in Brazil?", "What is inflation?", "how does a heat pump work", "Why do leaves change colour in autumn?",
  "What is the tallest mountain in Africa?", "how long do sea turtles live", "What did the Treaty of Versailles decide?",
  "What is photosynthesis?", "Who painted the Mona Lisa?", "how do tides work", "What is a black hole?",
];

// weighing options: analysis
const CHOICES = [
  ["renting", "buying a flat"], ["an electric car", "a hybrid"], ["a PhD", "a job in industry"], ["index funds", "picking stocks"],
  ["remote work", "working in the office"], ["nuclear power", "wind power"], ["a four-day week", "a five-day week"],
  ["public schools", "private schools"], ["tea", "coffee"], ["learning Spanish", "learning Mandarin"],
  ["a startup", "a large company"], ["paying off debt", "investing"], ["trains", "flights for short trips"],
];
const ANALYSIS_FRAMES = [
  "Should I choose {a} or {b}? Weigh the pros and cons.", "What are the pros and cons of {a} versus {b}?",
  "Compare {a} and {b} for someone in their thirties.", "i can't decide between {a} and {b}, which makes more sense and why",
  "Analyse the trade-offs between {a} and {b}.", "Is {a} better than {b}? Argue both sides.",
];
const ANALYSIS_TOPICS = [
  "the causes of the 2008 financial crisis", "why the Roman Empire declined", "the effect of social media on teenagers",
  "the impact of automation on jobs", "why some startups fail", "the strengths and weaknesses of this argument: cities should ban cars",
  "the likely effects of a higher minimum wage", "how inflation affects savers and borrowers", "what drives house prices",
];
const ANALYSIS_TOPIC_FRAMES = ["Analyse {t}.", "What do you think about {t}? Explain your reasoning.", "Give me a critical analysis of {t}.", "Break down {t} for me."];

// writing: creative_writing
const FORMS = ["poem", "short story", "song", "limerick", "haiku", "speech", "toast", "letter", "blog post", "product description", "dialogue", "rap verse", "bedtime story"];
const WRITING_TOPICS = [
  "a lighthouse keeper", "moving to a new city", "the first day of spring", "a robot learning to paint", "my grandmother's kitchen",
  "a lost umbrella", "friendship", "a dragon who is afraid of heights", "the ocean at night", "our team winning the cup",
  "a coffee shop that only opens at midnight", "leaving home", "a detective cat",
];
const WRITING_FRAMES = [
  "Write a {form} about {topic}.", "write me a {form} about {topic}", "Can you write a {form} about {topic}?",
  "I need a {form} about {topic} for a friend.", "Compose a {form} about {topic}, please.", "Help me write a {form} about {topic}.",
];

// short summary asks about well-known works and events (no text pasted): summarization, not writing or QA
const WORKS = [
  "Pride and Prejudice", "Moby-Dick", "the Odyssey", "Hamlet", "Macbeth", "War and Peace", "Don Quixote", "The Great Gatsby",
  "1984", "Brave New World", "Frankenstein", "The Hobbit", "Les Misérables", "The Godfather", "Titanic", "Star Wars",
  "the first Matrix film", "Jurassic Park", "the Iliad", "Crime and Punishment", "the Cold War", "the French Revolution",
  "the American Civil War", "the fall of the Berlin Wall", "the Industrial Revolution", "the Cuban Missile Crisis",
  "the Origin of Species", "The Wealth of Nations", "the Communist Manifesto", "the Magna Carta", "the Paris Agreement",
];
const SUMMARY_FRAMES = [
  "Summarize the plot of {w}.", "summarise {w} in three sentences", "Give me a short summary of {w}.", "tl;dr {w}",
  "TL;DR of {w}?", "What's the gist of {w}?", "Can you recap {w} for me?", "Write a one-paragraph synopsis of {w}.",
  "Briefly summarize {w} for a ten-year-old.", "quick recap of {w} please", "Sum up {w} in a few bullet points.",
  "Give me the key points of {w}.", "Condense the story of {w} into a tweet.", "In a nutshell, summarize {w}.",
];
// pull a named kind of item out of a short pasted snippet: extraction
const SNIPPETS_TO_MINE = [
  ["hashtags", "Great run this morning along the river #running #fitness #mondaymotivation"],
  ["email addresses", "Contact sales@acme.example or, for billing, ana.ruiz@acme.example before Friday."],
  ["dates", "The lease starts on 1 March 2025 and the first review is due 15 September 2025."],
  ["names of the people", "At the meeting, Priya Shah thanked Tom Becker and Dr. Li Wei for the report."],
  ["prices", "Coffee $3.50, bagel $2.25, orange juice $4.10 — total $9.85."],
  ["phone numbers", "Call the front desk at 555-0142 or the night manager on (555) 019-8833."],
  ["order number", "Thanks for your order #A-48213! It ships from our Leeds warehouse tomorrow."],
  ["city names", "We flew from Lisbon to Oslo, then took the train to Stockholm and Malmö."],
  ["ingredients", "Whisk two eggs with 200 g flour, a pinch of salt, 300 ml milk and a spoon of butter."],
  ["company names", "Shares of Nordlys Energy rose while Brightwater Foods and Kappa Logistics fell."],
];
const EXTRACT_FRAMES = [
  "Extract the {k} from this text: {t}", "Pull the {k} out of this: {t}", "List all the {k} in the following: {t}",
  "What are the {k} in this message? \"{t}\"", "Find every {k} here and return them as a JSON array: {t}",
  "{t}\n\nGive me just the {k} from the text above.", "Can you grab the {k} from this for me? {t}",
];

// sums and proofs: math
const MATH_QUESTIONS = [
  "what is the derivative of x^3 sin(x)", "How do I solve 3x^2 - 5x + 2 = 0?", "What is the integral of 1/(1+x^2)?",
  "If I roll two dice, what is the probability that the sum is 7?", "prove that the square root of 2 is irrational",
  "How many ways can 5 people sit around a round table?", "A train travels 180 km in 2.5 hours. What is its average speed?",
  "What is 15% of 240?", "Find the eigenvalues of the matrix [[2, 1], [1, 2]].", "how do i compute the determinant of a 3x3 matrix",
  "If a loan of $10,000 has 5% annual interest compounded monthly, how much is owed after 3 years?",
  "Show that the sum of the first n odd numbers is n^2.", "What is the limit of (1 + 1/n)^n as n goes to infinity?",
  "Solve the system: 2x + y = 7, x - y = 2.", "What is the expected number of coin flips to get two heads in a row?",
  "Is 221 a prime number?", "how do I find the area of a triangle with sides 5, 6 and 7",
];

// A system prompt that sets the task makes a plain user turn that task; a generic one changes nothing.
const ROLE_SYSTEMS: readonly (readonly [TaskType, string])[] = [
  ["translation", "You are a translator. Translate everything the user says into {language}."],
  ["translation", "Translate each user message into {language}. Output only the translation."],
  ["translation", "You translate between English and {language}. Reply with the translation, nothing else."],
  ["summarization", "Summarise whatever the user sends in two sentences."],
  ["summarization", "You are a summariser: reply with a three-bullet summary of the user's text."],
  ["creative_writing", "You are a poet. Turn whatever the user says into a short poem."],
  ["creative_writing", "Rewrite the user's message as a scene from a fantasy novel."],
  ["extraction", "Extract every person, place and date from the user's text and return them as JSON."],
  ["analysis", "Classify the sentiment of each user message as positive, negative or neutral and explain why."],
];
const GENERIC_SYSTEMS = [
  "You are a helpful assistant.",
  "You are a friendly and concise assistant. Answer in plain language.",
  "You are ChatGPT, a large language model. Be helpful, honest and harmless.",
  "Always answer politely. If you do not know something, say so.",
];
const TARGET_LANGUAGES = ["French", "German", "Spanish", "Italian", "Japanese", "Portuguese", "Dutch", "Chinese"];

/**
 * System-prompt variants of training rows: `material` plain texts (chat turns, say) under a system prompt that
 * sets the task, and some `rows` under a generic system prompt with their own label.
 */
export function withSystemPrompts(material: readonly string[], rows: readonly GeneratedPrompt[], count: number, seed = 15): GeneratedPrompt[] {
  const random = seededRandom(seed);
  const out: GeneratedPrompt[] = [];
  for (let i = 0; i < count; i++) {
    const [label, system] = pick(ROLE_SYSTEMS, random);
    out.push({ text: pick(material, random), label, source: "generated/system-role", system: fill(system, { language: pick(TARGET_LANGUAGES, random) }) });
    const row = pick(rows, random);
    out.push({ ...row, source: `${row.source}+generic-system`, system: pick(GENERIC_SYSTEMS, random) });
  }
  return out;
}

/** Maths problems with fresh numbers each time: `n(a, b)` is an integer in [a, b]. */
const MATH_MAKERS: readonly ((n: (a: number, b: number) => number) => string)[] = [
  (n) => `If ${n(2, 9)} workers build a wall in ${n(3, 12)} days, how long would ${n(2, 15)} workers take?`,
  (n) => `solve ${n(2, 9)}x + ${n(1, 30)} = ${n(31, 90)}`,
  (n) => `What is ${n(5, 95)}% of ${n(50, 2000)}?`,
  (n) => `Find the derivative of ${n(2, 9)}x^${n(2, 6)} - ${n(1, 9)}x + ${n(1, 20)}.`,
  (n) => `How many ways can I choose ${n(2, 5)} people out of ${n(6, 20)}?`,
  (n) => `I invest $${n(1, 50) * 1000} at ${n(2, 9)}% interest compounded yearly. How much do I have after ${n(2, 30)} years?`,
  (n) => `A rectangle is ${n(3, 40)} cm long and ${n(2, 30)} cm wide. What are its area and its diagonal?`,
  (n) => `What's the probability of getting at least ${n(2, 4)} heads in ${n(5, 10)} coin flips?`,
  (n) => `Integrate x^${n(2, 5)} * e^x from 0 to ${n(1, 3)}.`,
  (n) => `A car goes ${n(40, 130)} km/h for ${n(2, 5)} hours and then ${n(30, 100)} km/h for ${n(1, 4)} hours. What was its average speed?`,
  (n) => `Is ${n(100, 999)} divisible by ${n(3, 13)}? Show the working.`,
  (n) => `What is the sum of the first ${n(10, 200)} positive integers?`,
  (n) => `The mean of ${n(4, 9)} numbers is ${n(10, 60)}. One number is removed and the mean becomes ${n(8, 55)}. What was the number?`,
  (n) => `Find x if log base ${n(2, 5)} of x equals ${n(2, 6)}.`,
  (n) => `A bag holds ${n(2, 9)} red and ${n(2, 9)} blue balls. I draw two without replacement; what is the chance both are red?`,
  (n) => `Prove that ${n(2, 9)}^n - 1 is divisible by ${n(1, 8)} for all positive integers n, or give a counterexample.`,
];
const MATH_FRAMES = ["{x}", "{x}", "Can you help me with this maths problem? {x}", "quick math question: {x}", "{x} Explain each step.", "My homework: {x}"];

// more everyday and factual ground for question_answering, and other shapes of analysis and writing
const CONCEPTS = [
  "how the stock market works", "what causes inflation", "how the immune system fights a cold", "how GPS knows where I am",
  "why the ocean is salty", "what a mortgage is", "how elections work in the UK", "what the greenhouse effect is",
  "how bees make honey", "why we dream", "how a bill becomes a law", "what DNA does", "how earthquakes happen",
];
const QA_FRAMES = ["Explain {t}.", "Can you explain {t} in simple terms?", "I never understood {t}. Help?", "Tell me {t}.", "what is {t}? asking for my kid"];
const DIFFERENCES = [["weather", "climate"], ["a crocodile", "an alligator"], ["baking soda", "baking powder"], ["a virus", "bacteria"], ["socialism", "communism"], ["an LLC", "a sole proprietorship"], ["Catholics", "Protestants"], ["a tornado", "a hurricane"]];
const CLAIMS = [
  "remote work makes people less productive", "rent control lowers housing costs", "social media does more harm than good",
  "nuclear energy is the best way to cut emissions", "homework should be banned in primary schools", "AI will create more jobs than it destroys",
];
const ANALYSIS_MORE = [
  "Critique this argument: {c}.", "Is it true that {c}? Look at the evidence on both sides.", "Evaluate the claim that {c}.",
  "What are the strengths and weaknesses of the view that {c}?", "Write a SWOT analysis for {b}.", "Assess the risks of {b}.",
  "What would happen to a town's economy if {b}? Reason it through.",
];
const BUSINESSES = ["opening a bakery in a small town", "a subscription box for pet owners", "expanding a café chain abroad", "the factory closing", "a new airport being built"];
const WRITING_MORE = [
  "Draft an email to my landlord about {e}.", "write a cover letter for a job as {j}", "Write a tweet announcing {a}.",
  "Write marketing copy for {a}.", "Write a script for a two-minute video about {topic}.", "Write song lyrics about {topic}.",
  "Give me a story outline about {topic}.", "Rewrite this to sound more formal: hey guys, the meeting is moved to friday, dont be late",
  "Write a wedding speech for my brother, who loves {hobby}.", "Write a product review of {a} in the voice of a pirate.",
];
const ERRANDS = ["a broken heater", "returning my deposit", "noise from the flat upstairs", "a leaking roof"];
const JOBS = ["a nurse", "a barista", "a junior accountant", "a museum guide", "a delivery driver"];
const LAUNCHES = ["our new vegan bakery", "a reusable water bottle", "a language-learning app", "the summer sale"];
const HOBBIES = ["fishing", "board games", "cycling", "old films"];

// programming asks with a project around them, and pasted code with a request about it: how real coding
// prompts look (a situation, then the ask), so that "write a …", "how can I …" or "explain" next to technical
// content reads as code_generation, not as writing or question answering
const PROJECTS = [
  "a Flask API for a small shop", "a React dashboard for our sales team", "a Discord bot for my server", "a Chrome extension that blocks ads",
  "a data pipeline in Airflow", "an Android app for tracking workouts", "a Unity platformer", "a CLI tool that syncs two folders",
  "a microservice in Go that reads from Kafka", "a Django site with user accounts", "an Excel workbook of monthly budgets", "a Jupyter notebook on house prices",
  "a Spring Boot service behind nginx", "a WordPress plugin", "a Rust library for parsing logs", "a Kubernetes deployment of three services",
  "a scraper for job listings", "a Telegram bot that answers FAQs", "a Node.js backend with PostgreSQL", "an ETL job in Spark", "a Godot game",
  "a PyTorch model that classifies images", "a shell script that backs up my home folder", "a Next.js blog", "a VBA macro for invoices",
];
const PROJECT_ASKS = [
  "How can I {task}?", "I need to {task}. Can you write the code?", "What's the cleanest way to {task}?", "Write the part that should {task}.",
  "Please implement a way to {task}.", "Can you show me code to {task}?", "Now I want to {task}; how would you structure it?", "Give me a working example that can {task}.",
];
const PROJECT_FRAMES = [
  "I'm building {project}. {ask}", "I have {project}. {ask}", "We maintain {project} at work. {ask}", "For {project}: {ask}",
  "Context: {project}, mostly working.\n\n{ask}", "I'm working on {project} and I'm stuck. {ask}",
];
const ARTIFACTS = [
  "program", "script", "function", "class", "module", "command-line tool", "bot", "browser extension", "plugin", "SQL query", "regular expression",
  "Dockerfile", "GitHub Actions workflow", "shell one-liner", "set of unit tests", "REST endpoint", "React hook", "Python package", "Excel formula", "bash alias",
];
const ARTIFACT_FRAMES = ["Write a {lang} {artifact} that {task}.", "write me a {artifact} in {lang} which {task}", "Create a {artifact} that {task}, in {lang}.", "I need a {artifact} ({lang}) that {task}."];
const SNIPPETS = [
  "def average(xs):\n    return sum(xs) / len(xs)\n\nprint(average([]))",
  "for (let i = 0; i <= items.length; i++) {\n  total += items[i].price;\n}",
  "SELECT name, COUNT(*) FROM orders\nJOIN users ON users.id = orders.user_id\nGROUP BY users.id;",
  "public int find(int[] a, int x) {\n    for (int i = 0; i < a.length; i++)\n        if (a[i] == x) return i;\n    return -1;\n}",
  "fn main() {\n    let v = vec![1, 2, 3];\n    let w = v;\n    println!(\"{:?}\", v);\n}",
  "import pandas as pd\ndf = pd.read_csv('sales.csv')\ndf.groupby('region').sum()",
  "const res = await fetch(url);\nconst data = res.json();\nconsole.log(data.items);",
  "#include <stdio.h>\nint main() {\n  char buf[8];\n  gets(buf);\n  printf(\"%s\", buf);\n}",
  "while true; do\n  cp -r ~/docs /backup\n  sleep 3600\ndone",
  "class Stack:\n    def __init__(self):\n        self.items = []\n    def pop(self):\n        return self.items.pop()",
  "<div class=\"card\">\n  <img src=\"a.png\">\n  <p>{{ title }}</p>\n</div>",
  "func handler(w http.ResponseWriter, r *http.Request) {\n\tbody, _ := io.ReadAll(r.Body)\n\tw.Write(body)\n}",
];
const SNIPPET_ASKS = [
  "What's wrong with this code?", "Can you refactor this?", "Explain what this code does.", "Add error handling to this.", "Convert this to {lang}.",
  "Why does this crash?", "Make this faster.", "Write tests for this.", "Is this safe? Fix it if not.", "Add comments and type hints.",
];
const PROOFS = [
  "Prove that there are infinitely many primes.", "Show that every bounded monotone sequence converges.", "Prove by induction that 1 + 2 + ... + n = n(n+1)/2.",
  "Find all real x such that |x - 3| + |x + 1| = 6.", "How many positive divisors does 360 have?", "Show that the product of two odd numbers is odd.",
  "Find the minimum of f(x) = x^2 - 6x + 13.", "What is the probability that three random points on a circle form an acute triangle?",
  "Compute the sum of the series 1/2 + 1/4 + 1/8 + ...", "Prove that a group of prime order is cyclic.", "Find the general solution of y'' + y = 0.",
  "A fair die is rolled until a 6 appears. What is the expected number of rolls?", "Evaluate the limit of sin(x)/x as x approaches 0.",
];

// short factual questions, the commonest shape of question_answering in real chats: without them "Who wrote
// Hamlet?" read as chat (the sources ask factual questions inside templates or with answer options)
const WHO: readonly (readonly [string, readonly string[]])[] = [
  ["invented", ["the telephone", "the printing press", "the light bulb", "the World Wide Web", "the steam engine", "dynamite", "the bicycle", "the radio"]],
  ["discovered", ["X-rays", "gravity", "radium", "the electron", "America", "DNA's structure", "insulin", "Neptune"]],
  ["wrote", ["Macbeth", "War and Peace", "One Hundred Years of Solitude", "The Odyssey", "Don Quixote", "Frankenstein", "1984", "The Origin of Species"]],
  ["painted", ["the Sistine Chapel ceiling", "Guernica", "The Starry Night", "The Night Watch", "The Birth of Venus"]],
  ["founded", ["Rome", "the Red Cross", "Microsoft", "the Mongol Empire", "the Olympic Games in their modern form"]],
  ["composed", ["the Four Seasons", "the Moonlight Sonata", "The Magic Flute", "Boléro"]],
];
const WHEN = ["the First World War start", "the Titanic sink", "humans first land on the Moon", "the French Revolution begin", "the Roman Empire fall", "Germany reunify", "India become independent", "the euro come into use"];
const PLACES = ["Timbuktu", "Machu Picchu", "the Great Barrier Reef", "Mount Kilimanjaro", "the Dead Sea", "Angkor Wat", "the Atacama Desert", "Transylvania"];
const COUNTRIES = ["Canada", "Kenya", "Peru", "Vietnam", "Norway", "Morocco", "New Zealand", "Mongolia", "Portugal", "Chile"];
const FACT_SHAPES = [
  (r: () => number) => { const [verb, things] = pick(WHO, r); return `Who ${verb} ${pick(things, r)}?`; },
  (r: () => number) => `When did ${pick(WHEN, r)}?`,
  (r: () => number) => `Where is ${pick(PLACES, r)}?`,
  (r: () => number) => `What is the capital of ${pick(COUNTRIES, r)}?`,
  (r: () => number) => `What currency is used in ${pick(COUNTRIES, r)}?`,
  (r: () => number) => `How many people live in ${pick(COUNTRIES, r)}?`,
  (r: () => number) => `What languages are spoken in ${pick(COUNTRIES, r)}?`,
  (r: () => number) => `What does ${pick(["NATO", "DNA", "GDP", "UNESCO", "NASA", "laser", "scuba", "radar"], r)} stand for?`,
  (r: () => number) => `How ${pick(["tall", "old", "big", "deep", "long"], r)} is ${pick(["the Eiffel Tower", "the Amazon river", "the Pacific Ocean", "Mount Everest", "the Great Wall of China", "the universe"], r)}?`,
  (r: () => number) => `What is the ${pick(["boiling point", "melting point", "density", "chemical symbol"], r)} of ${pick(["water", "iron", "gold", "mercury", "oxygen", "salt"], r)}?`,
  (r: () => number) => `Which ${pick(["planet", "ocean", "country", "animal", "desert", "river"], r)} is the ${pick(["largest", "smallest", "oldest", "fastest", "longest", "hottest"], r)}?`,
  (r: () => number) => `How many ${pick(["teeth does an adult have", "players are on a rugby team", "strings does a violin have", "hearts does an octopus have", "moons does Mars have", "keys does a piano have"], r)}?`,
];

const pick = <T>(items: readonly T[], random: () => number): T => items[Math.floor(random() * items.length)]!;
const fill = (template: string, slots: Record<string, string>) => template.replace(/\{(\w+)\}/g, (_, key: string) => slots[key] ?? "");
const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** How people type: lower case, no final stop, contractions — for every task alike, so none of it is a cue. */
function casual(text: string, random: () => number): string {
  let out = text;
  if (random() < 0.4) out = out.replace(/\b(W|w)hat is\b/g, "$1hat's").replace(/\b(I|i) am\b/g, "$1'm").replace(/\bdo not\b/g, "don't");
  if (random() < 0.3) out = out.toLowerCase();
  if (random() < 0.3) out = out.replace(/[.?!]$/, "");
  return out;
}

function framed(x: string, random: () => number): string {
  return fill(pick(ASK_FRAMES, random), { x, X: capitalise(x) });
}

/** Up to `count` prompts per task that gets any (repeats dropped), in a fixed order for a seed. */
export function generateRouterPrompts(count: number, seed = 14): GeneratedPrompt[] {
  const random = seededRandom(seed);
  const out: GeneratedPrompt[] = [];
  const add = (label: TaskType, kind: string, text: string) => out.push({ text: casual(text, random), label, source: `generated/${kind}` });
  for (let i = 0; i < count; i++) {
    const tool = pick([...TOOLS, ...LANGUAGES], random);
    const where = pick([` in ${tool}`, ` with ${tool}`, ` using ${tool}`, ` in ${tool}`], random);
    const code = random();
    if (code < 0.5) add("code_generation", "how-to", framed(`${pick(CODE_TASKS, random)}${where}`, random));
    else if (code < 0.8) add("code_generation", "artifact", fill(pick(CODE_ARTIFACT_ASKS, random), { lang: pick(LANGUAGES, random), tool: pick(TOOLS, random), task: pick(CODE_TASKS_3P, random) }));
    else add("code_generation", "error", fill(pick(ERROR_FRAMES, random), { lang: pick(LANGUAGES, random), tool, error: pick(ERRORS, random) }));

    const question = random();
    if (question < 0.45) add("question_answering", "everyday", framed(pick(EVERYDAY_TASKS, random), random));
    else if (question < 0.6) add("question_answering", "fact", pick(FACT_QUESTIONS, random));
    else add("question_answering", "fact", pick(FACT_SHAPES, random)(random));

    const [a, b] = pick(CHOICES, random);
    if (random() < 0.6) add("analysis", "choice", fill(pick(ANALYSIS_FRAMES, random), { a: a!, b: b! }));
    else add("analysis", "topic", fill(pick(ANALYSIS_TOPIC_FRAMES, random), { t: pick(ANALYSIS_TOPICS, random) }));

    if (random() < 0.5) add("creative_writing", "writing", fill(pick(WRITING_FRAMES, random), { form: pick(FORMS, random), topic: pick(WRITING_TOPICS, random) }));
    else
      add("creative_writing", "writing", fill(pick(WRITING_MORE, random), { e: pick(ERRANDS, random), j: pick(JOBS, random), a: pick(LAUNCHES, random), topic: pick(WRITING_TOPICS, random), hobby: pick(HOBBIES, random) }));

    const n = (a: number, b: number) => String(a + Math.floor(random() * (b - a + 1)));
    if (random() < 0.25) add("math", "question", pick(MATH_QUESTIONS, random));
    else add("math", "problem", fill(pick(MATH_FRAMES, random), { x: pick(MATH_MAKERS, random)((a, b) => Number(n(a, b))) }));

    const more = random();
    if (more < 0.4) add("code_generation", "project", fill(pick(PROJECT_FRAMES, random), { project: pick(PROJECTS, random), ask: fill(pick(PROJECT_ASKS, random), { task: pick(CODE_TASKS, random) }) }));
    else if (more < 0.7) add("code_generation", "artifact", fill(pick(ARTIFACT_FRAMES, random), { lang: pick(LANGUAGES, random), artifact: pick(ARTIFACTS, random), task: pick(CODE_TASKS_3P, random) }));
    else {
      const snippet = pick(SNIPPETS, random);
      const ask = fill(pick(SNIPPET_ASKS, random), { lang: pick(LANGUAGES, random) });
      add("code_generation", "snippet", random() < 0.5 ? `${ask}\n\n${snippet}` : `${snippet}\n\n${ask}`);
    }
    if (random() < 0.5) add("math", "proof", pick(PROOFS, random));

    const qa = random();
    if (qa < 0.5) add("question_answering", "concept", fill(pick(QA_FRAMES, random), { t: pick(CONCEPTS, random) }));
    else {
      const [a, b] = pick(DIFFERENCES, random);
      add("question_answering", "difference", `What is the difference between ${a} and ${b}?`);
    }
    add("analysis", "claim", fill(pick(ANALYSIS_MORE, random), { c: pick(CLAIMS, random), b: pick(BUSINESSES, random) }));
    add("summarization", "known-work", fill(pick(SUMMARY_FRAMES, random), { w: pick(WORKS, random) }));
    const [kind, snippet] = pick(SNIPPETS_TO_MINE, random);
    add("extraction", "snippet", fill(pick(EXTRACT_FRAMES, random), { k: kind!, t: snippet! }));
  }
  const seen = new Set<string>();
  return out.filter((prompt) => !seen.has(prompt.text) && seen.add(prompt.text));
}

if (import.meta.main) {
  for (const prompt of generateRouterPrompts(Number(process.argv[2] ?? 4))) console.log(`${prompt.label.padEnd(20)} ${prompt.text.replace(/\n/g, " ")}`);
}
