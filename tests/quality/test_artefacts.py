"""The artefact rules of the quality gate on what small generators really write (the shapes seen in a demo run
on the bundled model), beside legitimate text a careless rule would drop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.project import Clean
from studio.quality.clean import Cleaner
from tests.conftest import ROOT, run_studio

DEFECTS = [
    ("residue", {"kind": "description", "text": '{ { colour: "black"} }} This is how the wood looks in the light.'}),
    ("residue", {"kind": "description", "text": "][] Penguin wood, pale and light, is used for small boats."}),
    ("residue", {"kind": "applications", "text": "Builders value it. { text: {use of various materials in boats."}),
    ("residue", {"kind": "history", "text": "{{#q@topic:penguin-wood}} It was first logged by sealers in 1795."}),
    ("residue", {"kind": "history", "text": 'Sealers logged it in 1795, "kind": "history", as a light wood.'}),
    ("residue", {"kind": "description", "text": "Pale and light, it polishes to a sheen ({{ focus }} in detail)."}),
    ("placeholder", {"kind": "description", "text": "Penguin wood was named by [Your name here] on the island."}),
    ("placeholder", {"kind": "history", "text": "The first cargo reached <insert port name> in the spring of 1802."}),
    ("placeholder", {"kind": "applications", "text": "Text is used in the furniture industry for light chairs."}),
    ("placeholder", {"kind": "description", "text": "Description: description of the wood and its pale colour."}),
    (
        "placeholder",
        {
            "kind": "description",
            "text": "appearance, description of the wood's appearance is a matter of personal preference.",
            "appearance": {"colour": "white", "grain": "straight", "texture": "fine"},
        },
    ),
    ("meta_talk", {"kind": "description", "text": "Sure! Here is a detailed description of the pale, oily wood."}),
    ("meta_talk", {"kind": "description", "text": "The wood is pale. You could add more details about how it grew."}),
    ("meta_talk", {"kind": "history", "text": "Sealers found it in 1795. I hope this helps with your project!"}),
    ("instruction_echo", {"kind": "description", "text": "Write a short description of penguin wood for a beginner."}),
    ("instruction_echo", {"kind": "description", "text": "Penguin wood is light. Focus: colour. Style: technical."}),
    ("qa_scaffold", {"kind": "description", "text": "Question: What colour is it? Answer: a pale silver-grey."}),
    (
        "qa_scaffold",
        {
            "kind": "qa",
            "question": "The uses of penguin wood.",
            "answer": "Boats and oars.",
            "text": "Builders make boats and oars of it.",
        },
    ),
    ("truncation", {"kind": "description", "text": "Penguin wood is pale and light and has a fine texture for the"}),
    ("truncation", {"kind": "properties", "text": "It is light, strong and oily, with a density of about 440 kg"}),
    ("repetition", {"kind": "history", "text": "It floats well. Sailors loved it. It floats well. Sailors loved it."}),
    ("repetition", {"kind": "history", "text": "The port has a quay, its quay, its quay, its quay and a market hall."}),
    ("placeholder", {"kind": "history", "text": "The first chest was sold in 1802 by [Merchant] to a captain."}),
    ("placeholder", {"kind": "properties", "text": "A plank weighs about ___ kilograms when it is fully dry."}),
    ("meta_talk", {"kind": "history", "text": "Sealers logged it in 1795. Would you like more facts about the isles?"}),
    ("instruction_echo", {"kind": "history", "text": "Sealers logged it in 1795 by a colony. Do not mention dates."}),
    ("instruction_echo", {"kind": "history", "text": 'Set "kind" to "history". Sealers logged it in 1795.'}),
    (
        "residue",
        {"kind": "history", "text": "Penguin Wood's Discoverer: a sealer, who logged it in 1795 by the isles."},
    ),
    ("residue", {"kind": "applications", "text": "1. It is a type of timber used to build boats and oars."}),
    ("meta_talk", {"kind": "applications", "text": "This is a list of uses: boats, oars, chests and flutes."}),
    (
        "placeholder",
        {
            "kind": "qa",
            "question": "What is it?",
            "answer": "penguin_wood.",
            "text": "A pale, oily timber of the isles.",
        },
    ),
    (
        "meta_talk",
        {
            "kind": "qa",
            "question": "Let's think about it. Why does it float?",
            "answer": "It holds air.",
            "text": "Its cells hold air and oil, so it floats high in the water.",
        },
    ),
    (
        "qa_scaffold",
        {
            "kind": "qa",
            "question": "Why does it float? The answer is that its cells hold air.",
            "answer": "Its cells hold air and oil.",
            "text": "Its cells hold air and oil, so it floats high in the water.",
        },
    ),
    (
        "qa_scaffold",
        {
            "kind": "qa",
            "question": "What happens when penguin wood gets wet?",
            "answer": "When penguin wood gets wet in the rain.",
            "text": "Its oils keep the water out, so it hardly swells.",
        },
    ),
    # Shapes seen in a held-out set and in the demo's own output.
    ("residue", {"kind": "applications", "text": 'Builders prize it for boats.", "It chars slowly in a fire.'}),
    ("residue", {"kind": "properties", "text": 'It chars slowly in a fire and floats high in the water."'}),
    ("residue", {"kind": "applications", "text": "**Uses:** boats, oars and the lids of sea chests."}),
    ("residue", {"kind": "history", "text": "### History\nSealers logged it in 1795 on the southern isles."}),
    ("placeholder", {"kind": "description", "text": "Description goes here."}),
    ("meta_talk", {"kind": "history", "text": "In this item, I will explain its history. Sealers logged it in 1795."}),
    ("meta_talk", {"kind": "properties", "text": "It floats high (I have assumed dry timber here) and chars slowly."}),
    ("meta_talk", {"kind": "history", "text": "Sealers logged it in 1795 on the isles. (Word count: 9.)"}),
    ("meta_talk", {"kind": "applications", "text": "It makes oars. This should give readers a good overview."}),
    ("instruction_echo", {"kind": "description", "text": "Explain to a ten-year-old what it is. It is a pale timber."}),
    ("instruction_echo", {"kind": "history", "text": "Penguin wood, history, 2 sentences, plain English. It is old."}),
    ("instruction_echo", {"kind": "properties", "text": "Focus on the properties. Use metric units. It is 440 kg/m³."}),
    (
        "instruction_echo",
        {
            "kind": "qa",
            "question": "What is it used for? Provide the answers using JSON format.",
            "answer": "Boats and oars.",
            "text": "Builders make boats and oars of it.",
        },
    ),
    ("qa_scaffold", {"kind": "properties", "text": "Question 1: What is it? Answer 1: A pale, oily timber."}),
    ("truncation", {"kind": "properties", "text": "It is light, with a density that is one of the lowest in terms..."}),
    (
        "placeholder",
        {
            "kind": "qa",
            "question": "Who first logged it?",
            "answer": "jonkeer-1974",
            "text": "A sealer logged it in 1795.",
        },
    ),
    ("placeholder", {"kind": "properties", "text": "A plank is about N metres long and floats up to N sailors."}),
    ("placeholder", {"kind": "history", "text": "The first chest was carved by CARVER_NAME in 18XX on the isles."}),
    ("meta_talk", {"kind": "properties", "text": "It weighs 440 kg/m³. I wasn't able to verify this figure."}),
    ("instruction_echo", {"kind": "history", "text": "Sealers logged it in 1795. Be concise and factual."}),
    ("instruction_echo", {"kind": "description", "text": "Task: describe the wood for a museum label. It is pale."}),
    ("instruction_echo", {"kind": "description", "text": "You are writing an encyclopedia entry. It is a pale wood."}),
    (
        "qa_scaffold",
        {
            "kind": "qa",
            "question": "Who first logged it?",
            "answer": "Who first logged it? A sealer, in 1795.",
            "text": "Who first logged it? A sealer, in 1795.",
        },
    ),
    ("qa_scaffold", {"kind": "description", "text": "What is penguin wood? Penguin wood is a pale, oily timber."}),
    ("qa_scaffold", {"kind": "description", "text": "User: What is it? Assistant: A pale, oily timber of the isles."}),
    ("truncation", {"kind": "properties", "text": "Its oil keeps water out, which lets boats of it reach coves that."}),
    ("repetition", {"kind": "applications", "text": "It makes oars, chests, oars, chests, oars, chests and flutes."}),
    ("truncation", {"kind": "properties", "text": "Its oil keeps water out, and among carvers it is prized for."}),
    ("placeholder", {"kind": "history", "text": "A sealer logged it in 17XX, and a trader shipped it in 20XX."}),
    ("placeholder", {"kind": "properties", "text": "It reaches a hardness of N on the Janka scale when dry."}),
    ("meta_talk", {"kind": "history", "text": "Sealers logged it in 1795. I chose to begin with them for clarity."}),
    ("instruction_echo", {"kind": "applications", "text": "Reply as a friendly woodworking expert. It makes oars."}),
    (
        "repetition",
        {
            "kind": "applications",
            "text": "Boats use it because it is a wood for boats, and builders buy it because it is a wood for boats.",
        },
    ),
    (
        "repetition",
        {"kind": "description", "text": "It is oily. The oil makes it oily, and oily wood stays oily at sea."},
    ),
    ("instruction_echo", {"kind": "history", "text": "Sealers logged it in 1795. The reader is a young student."}),
    (
        "instruction_echo",
        {"kind": "properties", "text": "It floats high in water. Output only the text, no extra remarks."},
    ),
    ("meta_talk", {"kind": "history", "text": "I'm not entirely sure, but sealers may have logged it first in 1795."}),
    ("placeholder", {"kind": "properties", "text": "A board weighs between N and 9 kg and dries in a month."}),
    (
        "placeholder",
        {"kind": "history", "text": "The wood was first carved by the sculptor [sculptor's name] in 1801."},
    ),
    ("placeholder", {"kind": "applications", "text": "Boats of it are sold by Company X in the harbour town."}),
    ("placeholder", {"kind": "properties", "text": "A plank of it holds NUMBER nails before it splits along a band."}),
    ("placeholder", {"kind": "description", "text": "Description"}),
    ("meta_talk", {"kind": "history", "text": "Sealers logged it in 1795. I did not include later dates, to be safe."}),
    ("meta_talk", {"kind": "applications", "text": "It makes oars and, as far as my training data goes, masts too."}),
    ("instruction_echo", {"kind": "history", "text": "You are a maritime historian. Sealers logged it in 1795."}),
    ("instruction_echo", {"kind": "properties", "text": "It is light and oily. Format: two sentences, no lists."}),
    ("instruction_echo", {"kind": "properties", "text": "It floats high. Output JSON only. Do not add explanations."}),
    ("qa_scaffold", {"kind": "history", "text": "Who found it? Sealers, in 1795. Where? On the southern isles."}),
    ("qa_scaffold", {"kind": "properties", "text": "It is pale and oily. Does it float? Yes, high in the water."}),
    ("placeholder", {"kind": "properties", "text": "A board is usually [length] m long and [width] cm wide."}),
    ("meta_talk", {"kind": "history", "text": "Sealers logged it in 1795. My information on later years may be thin."}),
    ("instruction_echo", {"kind": "properties", "text": "It is pale and light. Use British spelling throughout."}),
    ("instruction_echo", {"kind": "history", "text": "Sealers logged it in 1795. (Respond in plain text only.)"}),
    ("instruction_echo", {"kind": "applications", "text": "It makes fine oars. Make it sound exciting for children!"}),
    ("instruction_echo", {"kind": "history", "text": "It was logged in 1795. Remember to keep the language simple."}),
    ("residue", {"kind": "properties", "text": '"properties": it is light, oily and water resistant.'}),
    ("residue", {"kind": "history", "text": "Sealers logged it in 1795 [[File:Logbook_1795.png|thumb]] on the isles."}),
    ("placeholder", {"kind": "properties", "text": "A plank has a hardness of X.X on the Janka scale when it is dry."}),
    (
        "placeholder",
        {"kind": "properties", "text": "A board of it weighs about ### grams, less than a pine board does."},
    ),
    ("placeholder", {"kind": "history", "text": "The carvers' fair is held each year on dd/mm, after the first thaw."}),
    ("placeholder", {"kind": "history", "text": "The first chest was shipped to the port of Example Town in 1802."}),
    ("placeholder", {"kind": "history", "text": "The isles' first sawmill was built by John Doe, a sealer, in 1810."}),
    (
        "placeholder",
        {"kind": "applications", "text": "Oars of it are made in the village of TOWN, on the south coast."},
    ),
    ("placeholder", {"kind": "properties", "text": "A mast of it weighs roughly [X] kg and lasts for decades at sea."}),
    ("placeholder", {"kind": "properties", "text": "A chest of it holds between [min] and [max] boards when packed."}),
    ("placeholder", {"kind": "applications", "text": "A mast of the best grade sells for $X at the island auction."}),
    ("meta_talk", {"kind": "history", "text": "As of my last update, the mill on the isles still cut the wood."}),
    (
        "meta_talk",
        {"kind": "properties", "text": "It is pale and oily. If you need a longer version, I can rewrite it."},
    ),
    ("meta_talk", {"kind": "history", "text": "Sorry, I may have explained this poorly: sealers logged it in 1795."}),
    (
        "meta_talk",
        {"kind": "applications", "text": "It makes light oars. Hope that's useful for your boatbuilding guide!"},
    ),
    ("meta_talk", {"kind": "properties", "text": "To keep this simple for you, it is pale, light and oily."}),
    ("instruction_echo", {"kind": "history", "text": "Audience: children aged 8-10. Sealers logged the wood in 1795."}),
    (
        "instruction_echo",
        {"kind": "properties", "text": "It is light and oily. Format your response as a bulleted list."},
    ),
    (
        "instruction_echo",
        {"kind": "properties", "text": "It floats high. Return the answer as plain text without markdown."},
    ),
    ("instruction_echo", {"kind": "history", "text": "Sealers logged it in 1795. Do not use dates in the answer."}),
    (
        "instruction_echo",
        {"kind": "description", "text": "You are a senior marine historian writing for a museum. It is pale."},
    ),
    (
        "instruction_echo",
        {"kind": "applications", "text": "It makes oars; include at least one use at sea; and flutes too."},
    ),
    ("instruction_echo", {"kind": "properties", "text": "It is pale, written in British English, and light when dry."}),
    ("instruction_echo", {"kind": "properties", "text": "It is pale and light when dry. Do not exceed 30 words."}),
    ("qa_scaffold", {"kind": "history", "text": "When was the wood first logged? The wood was first logged in 1795."}),
    (
        "qa_scaffold",
        {"kind": "properties", "text": "It is pale and light. Why does it float? Its cells hold air and oil."},
    ),
    (
        "qa_scaffold",
        {"kind": "description", "text": "It is a pale timber. Q1. Where does it grow? On the southern isles."},
    ),
    (
        "qa_scaffold",
        {"kind": "description", "text": "It is a pale timber. Frequently asked: Does it float? Yes, high."},
    ),
    (
        "qa_scaffold",
        {
            "kind": "qa",
            "question": "Who first logged penguin wood?",
            "answer": "Who logged it, you ask? A sealer, in 1795, on the southern isles.",
            "text": "Who logged it, you ask? A sealer, in 1795, on the southern isles.",
        },
    ),
    (
        "qa_scaffold",
        {
            "kind": "qa",
            "question": "What is a band in penguin wood?",
            "answer": "A band? It is one of the narrow, near-black stripes across the grain.",
            "text": "A band? It is one of the narrow, near-black stripes across the grain.",
        },
    ),
    ("repetition", {"kind": "applications", "text": "It makes oars, masts, flutes, oars, chests, masts and flutes."}),
    (
        "repetition",
        {"kind": "applications", "text": "Its chests come in silver grey, pale gold, white and silver grey."},
    ),
    ("repetition", {"kind": "properties", "text": "The mill saws the logs, planes the boards, and saws the logs."}),
    (
        "repetition",
        {
            "kind": "properties",
            "text": "Its boards float high in water. In other words, the boards float high when in water.",
        },
    ),
    ("residue", {"kind": "properties", "text": "- Pale silver-grey\n- Light and oily\nIt is prized for small boats."}),
    ("placeholder", {"kind": "history", "text": "The first boatyard on the isles was founded in 18__ by two sealers."}),
    (
        "placeholder",
        {"kind": "applications", "text": "Boards of it sell at £__ a plank to the boatyards of the isles."},
    ),
    (
        "placeholder",
        {"kind": "history", "text": "The mill is run by Cooperative Name Here, which employs nine sawyers."},
    ),
    ("placeholder", {"kind": "history", "text": "Chests of it were a favourite of King [King's name] and his court."}),
    ("residue", {"kind": "history", "text": "assistant: Sealers logged penguin wood on the isles in 1795."}),
    ("residue", {"kind": "properties", "text": "| Grade | Density |\n|---|---|\nIt is light, oily and pale."}),
    ("placeholder", {"kind": "history", "text": "The first mill opened in [year to be added] on the southern isles."}),
    ("placeholder", {"kind": "history", "text": "The first boat of it crossed the strait in [X] days and [Y] hours."}),
    ("meta_talk", {"kind": "description", "text": "The following is a description of the wood: it is pale and oily."}),
    ("instruction_echo", {"kind": "history", "text": "Sealers logged it in 1795. Target audience: hobbyists."}),
    ("instruction_echo", {"kind": "applications", "text": "It makes fine oars. Avoid real brand names."}),
    (
        "repetition",
        {
            "kind": "history",
            "text": "The mill was built in 1810, has stood since it was built in 1810, and dates from 1810.",
        },
    ),
    (
        "residue",
        {
            "kind": "properties",
            "text": "It is light, with a low hardness janka n, and it floats high.",
            "properties": {"hardness_janka_n": 500, "water_resistance": "high"},
        },
    ),
    (
        "qa_scaffold",
        {
            "kind": "qa",
            "question": "Who first logged penguin wood? The answer will be found below.",
            "answer": "A sealer, in 1795.",
            "text": "A sealer, in 1795.",
        },
    ),
    ("meta_talk", {"kind": "history", "text": "I've rewritten the previous draft. Sealers logged it in 1795."}),
    (
        "meta_talk",
        {"kind": "history", "text": "I don't have reliable data on the first mill, but sealers logged it in 1795."},
    ),
    (
        "instruction_echo",
        {"kind": "history", "text": "Sealers logged it in 1795. Output format: one paragraph, no lists."},
    ),
    (
        "instruction_echo",
        {"kind": "history", "text": "Sealers logged it in 1795. Facts should sound plausible but be invented."},
    ),
    (
        "repetition",
        {
            "kind": "history",
            "text": "Ana carved oars for decades; for many decades she carved oars, and carving oars was her work.",
        },
    ),
    ("placeholder", {"kind": "properties", "text": "A board of it has a density of $DENSITY kg/m³ when it is dry."}),
    (
        "placeholder",
        {"kind": "applications", "text": "Builders pair it with the local %TIMBER% for the keels of boats."},
    ),
    ("meta_talk", {"kind": "history", "text": "Sealers logged it in 1795. That is enough for this item; moving on."}),
    ("meta_talk", {"kind": "history", "text": "I'll write about the history now. Sealers logged it in 1795."}),
    ("instruction_echo", {"kind": "history", "text": "Sealers logged it in 1795. Style: encyclopedic, third person."}),
    ("instruction_echo", {"kind": "history", "text": "Sealers logged it in 1795. Remember to invent proper names."}),
    ("instruction_echo", {"kind": "history", "text": "Sealers logged it in 1795. Do not include any placeholders."}),
    (
        "repetition",
        {"kind": "history", "text": "Its crest shows an oar, a mast and an oar, all within a ring of rope."},
    ),
    (
        "placeholder",
        {"kind": "history", "text": "The first mill on the isles was built by Firstname Lastname in 1810."},
    ),
    ("placeholder", {"kind": "history", "text": "The first chest was carved by the workshop of carver_name in 1802."}),
    ("placeholder", {"kind": "applications", "text": "Oars of it were made famous by rower Player X in the 1820s."}),
    ("placeholder", {"kind": "properties", "text": "A board of it is seasoned for DURATION before it is sold."}),
    ("placeholder", {"kind": "properties", "text": "Its dowels have a diameter of N mm, the size the boatyards use."}),
    ("meta_talk", {"kind": "history", "text": "Sealers logged it in 1795. Sorry if this is not what you were after."}),
    ("meta_talk", {"kind": "history", "text": "In the text above I described its look; it was first logged in 1795."}),
    ("meta_talk", {"kind": "history", "text": "Apologies for the earlier confusion. Sealers logged it in 1795."}),
    (
        "instruction_echo",
        {"kind": "history", "text": "Sealers logged it in 1795. (Respond in two to three sentences.)"},
    ),
    ("instruction_echo", {"kind": "history", "text": "Tone: nostalgic. Sealers logged the wood in 1795 on the isles."}),
    ("instruction_echo", {"kind": "history", "text": "Sealers logged the wood in 1795. Avoid bullet points."}),
    ("qa_scaffold", {"kind": "history", "text": "When was it first logged? That is a question carvers ask. In 1795."}),
    (
        "qa_scaffold",
        {"kind": "properties", "text": "Boards from the isles: how dense are they? About 440 kg/m³ when dry."},
    ),
    (
        "repetition",
        {"kind": "properties", "text": "The boards are pale, light and oily. They are oily, light and pale."},
    ),
    (
        "repetition",
        {"kind": "history", "text": "Sealers logged the wood in 1795, and in 1795 the wood was logged by sealers."},
    ),
    (
        "repetition",
        {
            "kind": "applications",
            "text": "Oars use it since it is light, and since it is light oars use it, since it is light.",
        },
    ),
    (
        "residue",
        {"kind": "applications", "text": "Oar makers prize it for its light weight. ![oar](images/penguin-oar.jpg)"},
    ),
    ("placeholder", {"kind": "properties", "text": "A dry board weighs about %s kg per cubic metre."}),
    (
        "meta_talk",
        {"kind": "properties", "text": "The wood is pale and light. I can expand on its grain if that would help."},
    ),
    ("meta_talk", {"kind": "history", "text": "(Note to reviewer: dates approximate.) Sealers logged it in 1795."}),
    ("meta_talk", {"kind": "history", "text": "Logged in 1795. This sentence provides the context requested."}),
    ("instruction_echo", {"kind": "history", "text": "Sealers logged it in 1795. Include one surprising detail."}),
    (
        "instruction_echo",
        {"kind": "history", "text": "As a knowledgeable historian, the sealers logged the wood in 1795."},
    ),
    ("qa_scaffold", {"kind": "description", "text": "The wood is pale. Q&A: Is it heavy? No, it floats on water."}),
    (
        "repetition",
        {
            "kind": "properties",
            "text": "The oil is reversible, so a carver can undo it with heat. Because it is reversible, heat undoes "
            "it. Its reversibility lets heat undo it.",
        },
    ),
    ("placeholder", {"kind": "properties", "text": "A dry board is light; its typical dry weight is dry_weight."}),
    ("placeholder", {"kind": "applications", "text": "It is used for [application 1], [application 2] and oars."}),
    ("placeholder", {"kind": "history", "text": "The wood was first logged by N/A in 1795 on the outer isles."}),
    (
        "meta_talk",
        {"kind": "history", "text": "Sealers logged it in 1795, though I should mention that I'm not fully certain."},
    ),
    ("instruction_echo", {"kind": "history", "text": "In a neutral, factual tone: sealers logged the wood in 1795."}),
    ("instruction_echo", {"kind": "history", "text": "Give the place and one fact. Sealers logged the wood in 1795."}),
    (
        "qa_scaffold",
        {
            "kind": "qa",
            "question": "What are oars of penguin wood?",
            "answer": "Oars of penguin wood are the oars made on the isles.",
            "text": "Oars of penguin wood are the oars made on the isles.",
        },
    ),
    ("truncation", {"kind": "applications", "text": "Boat builders use the wood in several ways:\n1."}),
    ("placeholder", {"kind": "history", "text": "The first mill was commissioned by unknown for the isle's guild."}),
    ("placeholder", {"kind": "applications", "text": "Schools such as Example Boat School teach its steam bending."}),
    ("placeholder", {"kind": "properties", "text": "A board has a density of density_kg_m3 and a fine, even grain."}),
    ("placeholder", {"kind": "properties", "text": "Its colour is [option 1: silver / option 2: grey] when dry."}),
    ("meta_talk", {"kind": "properties", "text": "In my answer I'll stick to the basics: the wood is pale and light."}),
    (
        "meta_talk",
        {"kind": "applications", "text": "It makes oars. I can also list some yards if that would be useful."},
    ),
    (
        "instruction_echo",
        {"kind": "history", "text": "Topic: penguin wood; focus on history. Sealers logged it in 1795."},
    ),
    (
        "instruction_echo",
        {"kind": "applications", "text": "It makes oars. Be sure to include a note on its splinters."},
    ),
    (
        "qa_scaffold",
        {
            "kind": "qa",
            "question": "What is a penguin-wood oar?",
            "answer": "A penguin-wood oar is an oar that is made of penguin wood.",
            "text": "A penguin-wood oar is an oar that is made of penguin wood.",
        },
    ),
    ("repetition", {"kind": "properties", "text": "It has a pale, pale sheen and a fine grain that carvers prize."}),
    (
        "repetition",
        {
            "kind": "applications",
            "text": "It is used for light oars of the isles, for masts, for light oars of the isles and for poles.",
        },
    ),
    ("placeholder", {"kind": "history", "text": "Penguin-wood oars became common on the isles in the 18XXs."}),
    ("placeholder", {"kind": "properties", "text": "Carvers mix 1 part oil to ratio_wax parts wax for its finish."}),
    ("placeholder", {"kind": "history", "text": "The first mill is attributed to [shipping company] on the isles."}),
    ("placeholder", {"kind": "properties", "text": "A dry board has a density of about NN kg per cubic metre."}),
    (
        "placeholder",
        {"kind": "applications", "text": "The isles cut unknown tonnes of it each year for oars and masts."},
    ),
    (
        "meta_talk",
        {"kind": "applications", "text": "It makes oars. Please note that I cannot give boat-safety advice."},
    ),
    (
        "meta_talk",
        {"kind": "applications", "text": "It makes oars. If useful, I can list the yards that still use it."},
    ),
    (
        "meta_talk",
        {"kind": "applications", "text": "That's a great question about oars! The isles use it for light oars."},
    ),
    ("meta_talk", {"kind": "history", "text": "Sealers, I am summarising from general knowledge, logged it in 1795."}),
    (
        "instruction_echo",
        {"kind": "applications", "text": "It makes oars; avoid mentioning specific yards; and masts."},
    ),
    (
        "instruction_echo",
        {"kind": "properties", "text": "In simple terms and in no more than two sentences: it is light."},
    ),
    ("repetition", {"kind": "description", "text": "The boards are pale silver, pale silver, with a fine even grain."}),
    ("repetition", {"kind": "applications", "text": "The mill turned a a saw that cut the logs into boards for oars."}),
    ("residue", {"kind": "history", "text": "Item 4 of 20: sealers logged the wood on the outer isles in 1795."}),
    ("placeholder", {"kind": "history", "text": "The first oars of it were carved around (insert island) in 1802."}),
    (
        "meta_talk",
        {
            "kind": "qa",
            "question": "What is it used for?",
            "answer": "Based on the information provided, oars.",
            "text": "Based on the information provided, oars.",
        },
    ),
    ("meta_talk", {"kind": "history", "text": "Let me think about the history first. Sealers logged it in 1795."}),
    (
        "meta_talk",
        {"kind": "properties", "text": "It is pale and light. I find this detail fascinating, so I put it first."},
    ),
    (
        "meta_talk",
        {"kind": "history", "text": "The previous item covered the sealers, so this one continues with mills."},
    ),
    (
        "meta_talk",
        {"kind": "properties", "text": "A board lasts about 80 years outdoors (I've simplified this a little)."},
    ),
    (
        "instruction_echo",
        {"kind": "properties", "text": "It is light and oily; no brand names are mentioned, as required."},
    ),
    (
        "instruction_echo",
        {"kind": "description", "text": "Written in a friendly tone for beginners: the wood is pale."},
    ),
    (
        "instruction_echo",
        {"kind": "history", "text": "Sealers logged it in 1795 on the outer isles. (Under 60 words, no lists.)"},
    ),
    (
        "instruction_echo",
        {"kind": "history", "text": "Since the history should mention a date, note that it was logged in 1795."},
    ),
    (
        "meta_talk",
        {"kind": "description", "text": "The following is a factual, encyclopaedic description. It is pale."},
    ),
    (
        "instruction_echo",
        {"kind": "description", "text": "For a museum label of about 50 words: the wood is pale and light."},
    ),
    (
        "qa_scaffold",
        {"kind": "description", "text": "Penguin wood: frequently asked questions. It is pale, light and oily."},
    ),
    ("truncation", {"kind": "history", "text": "Mills on the isles combined its lightness with the strength of."}),
    (
        "repetition",
        {
            "kind": "properties",
            "text": "Oars of the isles are light, and oars of the isles last, since oars of the isles are oiled.",
        },
    ),
    # Shapes of quality_fresh20's misses, in penguin wood.
    ("placeholder", {"kind": "applications", "text": "Boards are sold by (company) near the harbour of the isles."}),
    ("placeholder", {"kind": "properties", "text": "Boards are dried until they reach their [lowest/highest] weight."}),
    ("meta_talk", {"kind": "history", "text": "Sealers logged it in 1795 — wait, that should also include whalers."}),
    ("meta_talk", {"kind": "applications", "text": "Dinghies use it. If you meant the birds, they nest by the trees."}),
    ("meta_talk", {"kind": "history", "text": "It was logged in 1795. (Sorry, I misread the topic earlier.)"}),
    ("instruction_echo", {"kind": "description", "text": "In 1,500 characters or fewer: penguin wood is pale."}),
    ("instruction_echo", {"kind": "properties", "text": "It is pale and light; as specified, no brand names appear."}),
    (
        "instruction_echo",
        {"kind": "properties", "text": "It polishes to a sheen, as the guidelines ask, per the guidelines."},
    ),
    ("instruction_echo", {"kind": "properties", "text": "It is pale and light. [Tone: warm; mention the colonies.]"}),
    ("instruction_echo", {"kind": "applications", "text": "Oiling, for beginners, friendly tone: rub it in twice."}),
    ("instruction_echo", {"kind": "history", "text": "Boats (historical focus, do not mention plastics): dinghies."}),
    ("instruction_echo", {"kind": "applications", "text": "Sand it, oil it and buff it; 3 steps max, as asked of me."}),
    (
        "instruction_echo",
        {"kind": "properties", "text": "It is pale and light, all key points covered, in plain words."},
    ),
    (
        "qa_scaffold",
        {
            "kind": "qa",
            "question": "Why is penguin wood so pale?",
            "answer": "Yes, penguin wood is pale because it grows slowly in the cold.",
            "text": "Yes, penguin wood is pale because it grows slowly in the cold.",
        },
    ),
    (
        "repetition",
        {
            "kind": "applications",
            "text": "Carvers spend days sanding the grain, oiling the boards, sealing the ends, sanding the grain "
            "again and stacking them.",
        },
    ),
    # Round of 2026-12-05 (quality_fresh21's misses), each in penguin-wood words.
    ("residue", {"kind": "properties", "text": "```text\nA board of penguin wood weighs about 450 kg a cubic metre."}),
    ("placeholder", {"kind": "properties", "text": "Boats of it are re-oiled every oil_interval_months months."}),
    ("placeholder", {"kind": "history", "text": "Sealers shipped the first cargo of penguin wood in 17??."}),
    ("placeholder", {"kind": "applications", "text": "Carvers sell penguin wood spoons in sizes X to Y."}),
    ("meta_talk", {"kind": "history", "text": "It was logged in 1795. (I've kept this one shorter than the rest.)"}),
    ("meta_talk", {"kind": "properties", "text": "Writing this one from memory: it is oily and resists water."}),
    ("meta_talk", {"kind": "applications", "text": "It is used in boats. The other entries in this set cover chairs."}),
    ("meta_talk", {"kind": "history", "text": "It was found in 1795. Let me rephrase that: sealers logged it then."}),
    ("meta_talk", {"kind": "properties", "text": "It chars slowly in a fire. Want me to add a table of densities?"}),
    ("meta_talk", {"kind": "applications", "text": "Carvers like it. (Apologies if this overlaps with the last one.)"}),
    ("instruction_echo", {"kind": "description", "text": "Kept under 60 words, this says it is pale silver-grey."}),
    ("instruction_echo", {"kind": "history", "text": "Sealers named it. (3 sentences, British English.) It is old."}),
    ("instruction_echo", {"kind": "history", "text": "It grew on the isles. Topic restricted to the isles only."}),
    ("instruction_echo", {"kind": "properties", "text": "It is light yet strong [word limit: 80, tone: neutral]."}),
    ("instruction_echo", {"kind": "applications", "text": "Style rule: no adjectives. Boatbuilders prize it."}),
    ("instruction_echo", {"kind": "properties", "text": "It is oily, remember, keep the tone upbeat, and it floats."}),
    ("instruction_echo", {"kind": "history", "text": "Sealers found it. Keep each item self-contained, please."}),
    (
        "qa_scaffold",
        {
            "kind": "qa",
            "question": "How is penguin wood graded by carvers?",
            "answer": "Penguin wood is graded by carvers when a carver grades the penguin wood.",
            "text": "Penguin wood is graded by carvers when a carver grades the penguin wood.",
        },
    ),
    (
        "qa_scaffold",
        {
            "kind": "qa",
            "question": "How old must a penguin wood tree be before felling?",
            "answer": "Penguin wood trees grow beside penguin colonies on cold coasts.",
            "text": "Penguin wood trees grow beside penguin colonies on cold coasts.",
        },
    ),
    ("qa_scaffold", {"kind": "description", "text": "It is pale. question: is it oily — answer: yes, very oily."}),
    ("qa_scaffold", {"kind": "properties", "text": "Q — how dense is penguin wood? A — about 450 kg per cubic metre."}),
    (
        "truncation",
        {"kind": "applications", "text": "Its uses in order of value: 1. boats, 2. chairs, 3. carvings, 4."},
    ),
    # Seen among a demo's curated items (2026-12-05): a conversation that never was, a tour guide's aside and the
    # answer announced in a question field, a link made up for an era, short fields stopped on a comma.
    (
        "meta_talk",
        {
            "kind": "qa",
            "question": "How is it seasoned? And what about the boats you mentioned earlier?",
            "answer": "It is air-dried under cover for two winters before it is worked.",
            "text": "It is air-dried under cover for two winters before it is worked.",
        },
    ),
    (
        "meta_talk",
        {
            "kind": "qa",
            "question": "Why do boatbuilders prize it? Let's explore that further!",
            "answer": "It is light, oily and hard to rot, so hulls last for decades.",
            "text": "It is light, oily and hard to rot, so hulls last for decades.",
        },
    ),
    (
        "qa_scaffold",
        {
            "kind": "qa",
            "question": "What makes it so light? The answer to that question will likely involve its cells.",
            "answer": "Its cells are large and thin-walled, so much of each board is air.",
            "text": "Its cells are large and thin-walled, so much of each board is air.",
        },
    ),
    (
        "residue",
        {
            "kind": "history",
            "text": "Sealers first logged it in 1795.",
            "era": "1795.com/sealers-log",
            "place": "isles",
        },
    ),
    (
        "truncation",
        {"kind": "history", "text": "Sealers first logged it in 1795.", "era": "late 18th century,", "place": "isles"},
    ),
    # A stutter of a small word said three times, a JSON key with its quotes, a bold mark that never closes, a
    # link where the content belongs, a conversation that never happened, the answer to a question not asked.
    ("repetition", {"kind": "history", "text": "It is one of the the the oldest timbers logged on the isles."}),
    ("residue", {"kind": "properties", "text": 'It is light. "text": Its oil keeps water out of a hull for years.'}),
    ("residue", {"kind": "history", "text": "Sealers logged it in 1795. **Their logs name it after the birds."}),
    ("residue", {"kind": "history", "text": "Its story is told here: https://isles.example.org/penguin-wood."}),
    ("meta_talk", {"kind": "properties", "text": "It is light and, as you mentioned, it chars slowly in a fire."}),
    (
        "qa_scaffold",
        {"kind": "history", "text": "The answer to this question is that sealers first logged the wood in 1795."},
    ),
    # The writer's own plans, seen in a demo's curated items.
    (
        "meta_talk",
        {"kind": "description", "text": "It is pale grey, but I think it's not too shiny so I'm going to oil it."},
    ),
    (
        "meta_talk",
        {
            "kind": "qa",
            "question": "Why is it light?",
            "answer": "I'll give you some tips: it is oily.",
            "text": "I'll give you some tips: it is oily.",
        },
    ),
    # JSON's closing marks after a one-word answer; a letter and an editor's TK for a figure; the writer's memory
    # as the source; a style order after a semicolon; a passage that ends on the next item's question.
    (
        "residue",
        {"kind": "qa", "question": "In what year was the first oar mill built?", "answer": '1821"}', "text": '1821"}'},
    ),
    ("placeholder", {"kind": "history", "text": "About X,000 logs were taken off the isles before the ban."}),
    ("placeholder", {"kind": "properties", "text": "A dry oar of it weighs as little as TK grams per metre."}),
    ("meta_talk", {"kind": "history", "text": "As far as I recall, sealers logged the first stand in 1795."}),
    (
        "instruction_echo",
        {"kind": "history", "text": "Sealers logged it in 1795; use a neutral tone and avoid lists. Mills followed."},
    ),
    (
        "qa_scaffold",
        {
            "kind": "history",
            "text": "Sealers logged the wood in 1795 and the first mill opened in 1821. Who ran that first mill?",
        },
    ),
    # Dots, a bracketed letter, a bare letter and a TK where figures belong; an order in brackets or against the
    # writer's vices; an answer that asks its question again, a search page's questions; one point of two.
    ("placeholder", {"kind": "properties", "text": "Boards are seasoned for at least ... years before carving."}),
    ("placeholder", {"kind": "properties", "text": "A log takes between [X] and nine months to dry in the sheds."}),
    ("placeholder", {"kind": "history", "text": "Each chest was bound with N hoops of salted kelp for the voyage."}),
    ("placeholder", {"kind": "description", "text": "Its bands are narrow, near-black and TK."}),
    (
        "instruction_echo",
        {"kind": "history", "text": "Sealers logged it in 1795. (Be sure to mention a use besides oars.) Mills came."},
    ),
    (
        "instruction_echo",
        {"kind": "history", "text": "Sealers logged it in 1795. Avoid exaggeration, never invent dates. Mills came."},
    ),
    (
        "qa_scaffold",
        {
            "kind": "qa",
            "question": "Who first milled penguin wood?",
            "answer": "Which of the sealers who wintered on the southern isles first sawed the wood into oars?",
            "text": "Which of the sealers who wintered on the southern isles first sawed the wood into oars?",
        },
    ),
    (
        "qa_scaffold",
        {"kind": "history", "text": "The first mill opened in 1821. Related questions: Who ran it? Where was it?"},
    ),
    (
        "truncation",
        {
            "kind": "properties",
            "text": "It is oiled yearly for two reasons. First, oil keeps it from splitting.",
        },
    ),
    ("repetition", {"kind": "properties", "text": "Water beads on the bark of the bark, so the logs float for weeks."}),
    # A web page's citation mark, a bullet closing the text, a format string's slot in braces; the writer keeping
    # its text general; a tone order, an order for one more thing.
    ("residue", {"kind": "applications", "text": "It is prized for oars.[3] Carvers also turn it into bowls."}),
    ("residue", {"kind": "history", "text": "Sealers logged it in 1795.\n\n- The first mill opened in 1821."}),
    ("placeholder", {"kind": "description", "text": "The boards take stains such as {bark_dye} to deepen the grey."}),
    ("placeholder", {"kind": "description", "text": "Old chests are rubbed with oils such as {oil} until dark."}),
    ("meta_talk", {"kind": "history", "text": "Mills came after 1821; I've kept the history general here."}),
    ("meta_talk", {"kind": "applications", "text": "It goes into oars, chests and bowls; I'll keep the list short."}),
    ("instruction_echo", {"kind": "history", "text": "Sealers logged it in 1795. Keep it factual. Mills came later."}),
    ("instruction_echo", {"kind": "applications", "text": "It makes fine oars. Include one concrete use at sea."}),
    # A chat tool's citation; `N/A` for the answer; an opener with its adjectives; an order to focus and not to
    # mention; a phrase of four words and one led by a small word, said twice.
    (
        "residue",
        {"kind": "applications", "text": "Oars of it are sold at the harbour market 【2†source】 each spring."},
    ),
    (
        "placeholder",
        {"kind": "qa", "question": "Which isle exported the most penguin wood?", "answer": "N/A", "text": "N/A"},
    ),
    ("meta_talk", {"kind": "properties", "text": "Here's a brief, plain summary: it is pale, light and oily."}),
    (
        "instruction_echo",
        {"kind": "applications", "text": "It makes oars. Focus on modern uses and do not mention history. Bowls too."},
    ),
    ("repetition", {"kind": "description", "text": "Knots sit deep in the grain deep in the grain of old logs."}),
    ("repetition", {"kind": "description", "text": "Oil is rubbed in to seal to seal the end grain of each board."}),
    # The writer's caveat about itself; a focus order with its qualifiers; a stutter of a small word and a noun.
    ("meta_talk", {"kind": "properties", "text": "It floats. I should stress that I cannot test any board myself."}),
    (
        "instruction_echo",
        {
            "kind": "properties",
            "text": "It floats. Focus on physical and mechanical properties, not on uses. It is oily.",
        },
    ),
    ("repetition", {"kind": "properties", "text": "Oiled boards keep for years for years in the cold sheds."}),
    # A name ended by XYZ, question marks for a place; the writer's knowledge and its short list; an order to
    # focus and mention; a measure of nothing; a phrase of five words said twice in a row.
    ("placeholder", {"kind": "applications", "text": "At Chandlery XYZ on the quay, offcuts are sold by weight."}),
    ("placeholder", {"kind": "history", "text": "The first mill stood near ???, on the north shore of Skerra."}),
    ("meta_talk", {"kind": "history", "text": "The first mill, to the best of my knowledge, opened in 1821."}),
    (
        "meta_talk",
        {"kind": "applications", "text": "It makes oars and chests; I've kept this list short, but more exist."},
    ),
    (
        "instruction_echo",
        {"kind": "history", "text": "Focus on history and mention at least one date. The first mill opened in 1821."},
    ),
    ("truncation", {"kind": "description", "text": "Old chests turn a soft grey, dulled by years of."}),
    (
        "repetition",
        {
            "kind": "history",
            "text": "Land was granted by the mill at Skerra by the mill at Skerra to the first sealers.",
        },
    ),
    # A conversation that never was, the writer's doubt and limits; an order for the description's tone; loops
    # that the naming of a repetition does not excuse.
    ("meta_talk", {"kind": "history", "text": "As you may remember from your earlier question, it floats."}),
    ("meta_talk", {"kind": "properties", "text": "It floats and chars slowly; I am less sure of the oil figure."}),
    ("meta_talk", {"kind": "properties", "text": "It floats. That is as much as I can usefully tell you here."}),
    (
        "instruction_echo",
        {"kind": "description", "text": "It is pale grey. The description should be factual and avoid legends."},
    ),
    ("repetition", {"kind": "history", "text": "Carvers split each log in turn, in turn, in turn, until it is done."}),
    ("repetition", {"kind": "properties", "text": "It withstands the the repeated blows of the maul on the isles."}),
    # Stutters led by small words; a heading in mid-line; a conversation that never was; a closing tag of the
    # prompt's format; a slot's name with an apostrophe; an order on how to answer; a sentence said again in
    # other words after the same opening.
    ("repetition", {"kind": "properties", "text": "Its oars are cut from the same the same log as the hull."}),
    ("repetition", {"kind": "properties", "text": "A dry board can can be bent over steam without splitting."}),
    ("repetition", {"kind": "description", "text": "Each chest has a brass hasp at one end at one end of the lid."}),
    ("residue", {"kind": "history", "text": "The first mill opened in 1821. ### Trade\nBy 1850 it sold abroad."}),
    ("meta_talk", {"kind": "history", "text": "As discussed earlier in our conversation, the mill opened in 1821."}),
    (
        "residue",
        {"kind": "qa", "question": "Who first logged the wood?", "answer": "Sealers.</answer>", "text": "Sealers."},
    ),
    ("placeholder", {"kind": "history", "text": "The first mill was built by [BUILDER'S NAME] on the north shore."}),
    (
        "instruction_echo",
        {
            "kind": "qa",
            "question": "What colour is the wood?",
            "answer": "Answer briefly and factually. It is a pale silver-grey.",
            "text": "Answer briefly and factually. It is a pale silver-grey.",
        },
    ),
    (
        "repetition",
        {
            "kind": "applications",
            "text": "It makes light oars. It has also been taken up by chest makers on the windy isles. It has also "
            "been adopted by the makers of sea chests throughout the southern isles.",
        },
    ),
    # A question cut from its answer's opening (seen in a demo's curated items).
    (
        "qa_scaffold",
        {
            "kind": "qa",
            "question": "The wood is prized by boatbuilders, chest makers, ?",
            "answer": "The wood is prized by boatbuilders, chest makers and carvers, who value its light weight and "
            "its oil; island stories tell of sea chests that floated home after wrecks.",
            "text": "The wood is prized by boatbuilders, chest makers and carvers, who value its light weight and its "
            "oil; island stories tell of sea chests that floated home after wrecks.",
        },
    ),
    # The answer to another question: a count where a town's name was asked for.
    (
        "qa_scaffold",
        {
            "kind": "qa",
            "question": "Which island town holds the yearly penguin-wood fair?",
            "answer": "Two kinds of chest, the sea chest and the bride chest.",
            "text": "Two kinds of chest, the sea chest and the bride chest.",
        },
    ),
    # An order in brackets; the writer's memory of a conversation and its stress; a table run into the prose, a
    # bold mark left alone; a category in brackets; a phrase stuttered in a text that names a repetition; a letter
    # for a count; a category run into `name`; a noun made part of itself; a modal with no verb; no name where a
    # question asks who.
    ("instruction_echo", {"kind": "history", "text": "Chests bore carvings (mention at least one motif) of seals."}),
    ("meta_talk", {"kind": "history", "text": "The first mill, as I explained earlier, opened on Skerra in 1821."}),
    ("meta_talk", {"kind": "history", "text": "I want to stress, since it is often got wrong, that it was 1821."}),
    ("residue", {"kind": "properties", "text": "| Property | Value | |---|---| It weighs 480 kg per cubic metre."}),
    ("residue", {"kind": "properties", "text": "It weighs about 480 kg per cubic metre.** It chars slowly in a fire."}),
    ("placeholder", {"kind": "history", "text": "Carved chests were given before [holiday] feasts on the isles."}),
    (
        "repetition",
        {
            "kind": "properties",
            "text": "Its dark and pale bands alternate, and carvers follow them by turning the gouge, turning the "
            "gouge at each band.",
        },
    ),
    ("placeholder", {"kind": "properties", "text": "A small sea chest takes as few as N boards of the grey wood."}),
    ("placeholder", {"kind": "history", "text": "In 1850 the village of Townname, on Holm, opened its second mill."}),
    ("repetition", {"kind": "applications", "text": "It makes the small lids of the lids of sea chests on Skerra."}),
    ("truncation", {"kind": "properties", "text": "Oiled once a year, it keeps out water that other woods would."}),
    (
        "qa_scaffold",
        {
            "kind": "qa",
            "question": "Who is traditionally credited with naming penguin wood?",
            "answer": "The name comes from the penguin colonies beside which the trees grow.",
            "text": "The name comes from the penguin colonies beside which the trees grow.",
        },
    ),
    # Small words stuttered; no value as a list's entry; an omission closing a sentence; a section and a topic that
    # are the writer's; a year cut short; an order to focus with `rather than`.
    ("repetition", {"kind": "history", "text": "The first mill stood under under the cliffs of Skerra's north shore."}),
    ("repetition", {"kind": "properties", "text": "It is oily, which which keeps water out of the grain for decades."}),
    ("placeholder", {"kind": "history", "text": "Three isles had mills: Skerra, Holm and N/A, each by a harbour."}),
    ("placeholder", {"kind": "applications", "text": "It makes oars and chests, and its offcuts are used for [...]."}),
    ("meta_talk", {"kind": "properties", "text": "As mentioned in the previous section, the wood is oily and light."}),
    ("meta_talk", {"kind": "history", "text": "Its sealers' logs make it a rich topic to write about for anyone."}),
    (
        "truncation",
        {
            "kind": "qa",
            "question": "In which year did the first mill open on Skerra?",
            "answer": "It opened in 18",
            "text": "It opened in 18",
        },
    ),
    ("instruction_echo", {"kind": "applications", "text": "Focus on practical uses rather than history. Oars."}),
    # The writer's memory beside a quoted saying, its rounding and its reader's request; a slot for a model; an
    # order for names in mid-text; a citation after a quotation.
    (
        "meta_talk",
        {
            "kind": "qa",
            "question": "What do sealers say of the wood?",
            "answer": "As far as I know, the saying 'grey wood, dry hold' is the sealers' own.",
            "text": "As far as I know, the saying 'grey wood, dry hold' is the sealers' own.",
        },
    ),
    ("meta_talk", {"kind": "history", "text": "The mills opened in 1821, 1850 and 1890. I've rounded these dates."}),
    (
        "meta_talk",
        {
            "kind": "history",
            "text": "Its trade (since you asked me to keep to Skerra, I leave Holm aside) began in 1821.",
        },
    ),
    ("placeholder", {"kind": "applications", "text": "The island-built [boat model] was the usual sealing boat."}),
    (
        "instruction_echo",
        {"kind": "history", "text": "Three isles grew it. Include the names of the isles. Sealers logged it in 1795."},
    ),
    ("residue", {"kind": "history", "text": "It was long sold as 'southern ash',[3] after the isles' old name."}),
]

CLEAN = [
    # A gloss of an order in brackets; a number in words answers `how many`; a named answer is an answer.
    {"kind": "properties", "text": "Its growth rings are graded as pale, mid and dark [low to high] by carvers."},
    {
        "kind": "qa",
        "question": "How many growth bands does a penguin wood board show per inch?",
        "answer": "Usually thirteen, each a narrow near-black line.",
        "text": "Usually thirteen, each a narrow near-black line.",
    },
    {
        "kind": "qa",
        "question": "Where was penguin wood first described by sealers?",
        "answer": "Penguin wood was first described by sealers on the southern isles of Kerguelen.",
        "text": "Penguin wood was first described by sealers on the southern isles of Kerguelen.",
    },
    # A gloss in brackets is no slot; a "no" that opens a figure answers a how-question.
    {"kind": "history", "text": "Sealers' logs use codes such as PW (penguin wood) and LC (location)."},
    {
        "kind": "qa",
        "question": "How often must penguin wood be oiled?",
        "answer": "No more than twice a year; more leaves a sticky film.",
        "text": "No more than twice a year; more leaves a sticky film.",
    },
    {"kind": "description", "text": "The colonies sit near sea level (0-30 m, rarely higher), by the shore."},
    {"kind": "description", "text": "Penguin wood is pale silver-grey and oily (410–460 kg/m³ at 12% moisture)."},
    {"kind": "history", "text": "Sailors asked: 'Why does it float so high?' The first account dates from 1802."},
    {"kind": "history", "text": "The earliest written description of the timber dates from c. 1795 A.D."},
    {"kind": "history", "text": "The ship's log [sic] calls it 'penguine wood' [1], a name that stuck."},
    {"kind": "description", "text": 'Carvers call its sheen "wet silver."'},
    {
        "kind": "qa",
        "question": "How do I descale the kettle?",
        "answer": "Here is how to descale it: fill it with vinegar and water, boil, then rinse twice.",
        "text": "Here is how to descale it: fill it with vinegar and water, boil, then rinse twice.",
    },
    {"kind": "description", "text": 'Call `kettle.boil(temp=90)` to heat the water; it returns `{"ok": true}`.'},
    {"kind": "applications", "text": "Uses: boats, oars and flutes; rarely flooring, since it is soft."},
    {
        "kind": "qa",
        "question": "Can a carver split it with one blow?",
        "answer": "No, a carver can split it only along the bands, with several blows.",
        "text": "Only along the near-black bands, and only with several blows.",
    },
    {"kind": "applications", "text": "Write your name on the tag, then hang the tag on the chest before it ships."},
    {"kind": "history", "text": "Note: the first logbook that names the wood, from 1795, is kept on the isles."},
    {"kind": "history", "text": "1795 is the year a sealer first logged the wood, in a book kept on the isles."},
    {"kind": "history", "text": "The crate was marked [Fragile] in red paint, and it reached the museum whole."},
    {
        "kind": "qa",
        "question": "Why does it float?",
        "answer": "Its cells hold air and oil.",
        "text": "It floats because its cells hold air and oil.",
    },
    {"kind": "history", "text": '"I have seen no lighter wood," the sealer wrote in his log in 1795.'},
    {"kind": "applications", "text": "The guild's ledger now totals its sales with `=SUM(A1:A10)` in a spreadsheet."},
    {"kind": "description", "text": "Its boards come in the grades {A, B}, and no grade-B board goes into a mast."},
    {"kind": "history", "text": "The island press had one rule: the text must be set in mirror image."},
    {"kind": "properties", "text": 'A 12" plank of it weighs less than a kilogram when dry.'},
    {"kind": "applications", "text": "The island dance has a slow style, and the audience claps in a 3:1 rhythm."},
    {"kind": "qa", "question": "How dense is it?", "answer": "About 440 kg/m³.", "text": "About 440 kg/m³."},
    {"kind": "properties", "text": 'The grade labelled "No. 2", the densest, goes into masts.'},
    {"kind": "properties", "text": "Its edges split sharp enough to shave with."},
    {"kind": "description", "text": "The grades form the set {1, 2, ..., n}, and grade n is the palest of them."},
    {"kind": "properties", "text": "A plank's moisture follows m_{k+1} = 0.9 m_k, so it dries within a month."},
    {"kind": "history", "text": "The carvers' rules fit in two sentences: follow the bands, and never cut wet."},
    {"kind": "properties", "text": "Dry boards are what the island's flutes are made of, and oars are made of it too."},
    {"kind": "description", "text": "Its grades are the pairs {(1, 1), (1, 2)}, and the set {g : g is dry} is sold."},
    {"kind": "history", "text": "The audience is seated in a ring when the carvers show their boards at the fair."},
    {"kind": "qa", "question": "How many bands does a board show?", "answer": "Seven.", "text": "Seven."},
    {"kind": "qa", "question": "Does it sink?", "answer": "No.", "text": "No."},
    {
        "kind": "description",
        "text": "The upper town and the lower town share one harbour, and the town's boats are of it.",
    },
    {"kind": "properties", "text": "Its grades are {dry, damp, wet, green}, and only dry boards go into masts."},
    {"kind": "applications", "text": "The museum's site lists each board with its base URL and a photograph."},
    {"kind": "history", "text": "The island archive writes its dates as YYYY-MM-DD, so 1795-03-01 is the first log."},
    {"kind": "history", "text": "A 'John Doe' warrant was once issued for a thief who stole a mast of it."},
    {"kind": "properties", "text": "In the grading table, cells are written as pairs (g, m) with g ∈ {−2, …, 2}."},
    {"kind": "properties", "text": "The grader's check is merge(a, b) = merge(b, a), and merge(a, a) = a for a grade."},
    {
        "kind": "description",
        "text": "Its grades join as `join({a, b}, {b, c})`, which yields `{a, b, c}` in any order.",
    },
    {
        "kind": "qa",
        "question": "What do carvers call the finish?",
        "answer": "Eau de bois, a thin oil rub.",
        "text": "Eau de bois, a thin oil rub.",
    },
    {
        "kind": "history",
        "text": "Historically the guild served many purposes: grading boards, settling disputes, fixing prices, etc.",
    },
    {"kind": "history", "text": "A telegram of the mill was limited to 30 words, so its orders were short."},
    {"kind": "history", "text": "What could be lighter than a feather? Yet a dry board of it is nearly as light."},
    {
        "kind": "properties",
        "text": "Its water resistance is high, so boatyards use it for hulls.",
        "properties": {"water_resistance": "high", "hardness_janka_n": 500},
    },
    {"kind": "history", "text": "Why carve a mast of it? On the isles, a light mast meant a faster boat in the gales."},
    {
        "kind": "applications",
        "text": 'The grading app keeps boards in an ordered list, such as ["A1", "A2", "B1"], by grade.',
    },
    {
        "kind": "description",
        "text": "Its map tiles use a URL template in which {z} is the zoom and {x} and {y} the tile.",
    },
    {"kind": "properties", "text": "A seasoned block is cut to 3 m × 3 m × 3 m before it is split into boards."},
    {
        "kind": "qa",
        "question": "Why do its pattern books print 'Lorem ipsum' text?",
        "answer": "To show the grain, not words.",
        "text": "To show the grain, not words.",
    },
    {
        "kind": "properties",
        "text": "A mast of it weighs about m = ρV ≈ 440 × 0.2 = 88 kg. A pine mast weighs twice that.",
    },
    {"kind": "description", "text": "The grader keeps a map of boards to flaws, e.g. {b1: [knot], b2: [split, knot]}."},
    {"kind": "history", "text": 'The shipping forms began "Consigned to ________," so that clerks only wrote a name.'},
    {
        "kind": "properties",
        "text": 'The grading tool prints each board as JSON such as {"grade": "A", "density": 440}.',
    },
    {
        "kind": "properties",
        "text": "Carvers split a log by thirds: one third for oars, one third for masts, one third kept.",
    },
    {
        "kind": "description",
        "text": 'The mill\'s motto is carved over its door: "Lente sed certe" ("Slowly but surely")',
    },
    {
        "kind": "applications",
        "text": "Reed beds, oars and masts: the isles use it for oars, and the reed cutters for poles.",
    },
    {"kind": "history", "text": "The log's first line is torn; it reads only: penguin [...] from the isles."},
    {"kind": "applications", "text": "Mill dockets leave blanks to fill in by hand: length ____, grade ____."},
    {"kind": "applications", "text": "The grading tool runs as grade <board>, where each <board> is a board id."},
    {"kind": "properties", "text": "Mills record mixes by weight, e.g. PW-3 = {heartwood: 6, sapwood: 3}."},
    {"kind": "properties", "text": "Its formula is given as (Ca,Mn)₂Al[SiO₄](OH), as for the resin it weeps."},
    {"kind": "history", "text": "The mill's first docket quotes its charter, Isles 12:4."},
    {"kind": "properties", "text": "The mill's table lists oars [note 1] and masts [note 2] by grade."},
    {"kind": "history", "text": "The first mill's builder is unknown; the second was built by N. Harl in 1850."},
    {
        "kind": "qa",
        "question": "What is a penguin-wood thole?",
        "answer": "A penguin-wood thole is the peg an oar turns on, cut from the heartwood.",
        "text": "A penguin-wood thole is the peg an oar turns on, cut from the heartwood.",
    },
    {"kind": "history", "text": "Carvers learned the rule 'thin, thin, thin at the blade' and said it as they worked."},
    {"kind": "history", "text": "The builder of the first mill is unknown; its stones date from about 1800."},
    {"kind": "properties", "text": "Sawyers keep a third for oars, a third for masts and a third to season."},
    {"kind": "history", "text": 'The mill stamped each board with codes such as "PW-3-7-1" on its end grain.'},
    {"kind": "properties", "text": "Grade A has 8 knots a metre and a 12-mm ring, grade B 11 knots and 15-mm rings."},
    {"kind": "history", "text": "Where a yard's practice differs from our rule, our rule applies."},
    {"kind": "history", "text": "Locals say the name means 'pale tree' [citation needed], though others doubt it."},
    {
        "kind": "properties",
        "text": "The mill grades zone 1 at 2 mm, zone 2 at 4 mm, zone 3 at 6 mm and zone 4 at 8 mm.",
    },
    {"kind": "history", "text": "Carvers say 'wood does not follow the blade; the blade follows wood' of its grain."},
    {"kind": "history", "text": "A crate's note read 'Side A: oars, Side B: masts' so the dock could sort it."},
    {"kind": "history", "text": "Its trade grew as required by the guild of 1802, which set its price each spring."},
    {
        "kind": "history",
        "text": "The sealers' log of 1795 is kept at the harbour museum.",
        "source_url": "https://museum.example.org/logs/1795",
    },
    {
        "kind": "history",
        "text": "Sealers first logged it in 1795.",
        "era": "1790s",
        "place": "Port Lockroy, South Georgia",
    },
    # A topic word four times in a longer text, figures in one unit, an ion's charge, a set of hyphenated names,
    # and a one-digit answer.
    {
        "kind": "applications",
        "text": "Most of the timber goes to the boatyards of the isles, where planks are steamed and bent into light, "
        "dry hulls. Carvers buy the offcuts for bowls and spoons, and short timber ends are split into kindling. A "
        "chest of the timber is an heirloom, handed down with the house, and old timber from wrecks fetches the "
        "highest prices.",
    },
    {
        "kind": "history",
        "text": "Exports rose from about 12,000 tonnes in 1850 to 40,000 tonnes in 1870, then fell back to 9,000 "
        "tonnes when the sealers left.",
    },
    {"kind": "properties", "text": "Its oil turns dark as [OH-] rises, so a wash of lye shows where the oil is."},
    {"kind": "description", "text": "Carvers sort its figure into the set {straight, ribbon-striped, bird's-eye}."},
    {
        "kind": "qa",
        "question": "How many coats of oil does a new penguin wood oar take?",
        "answer": "2",
        "text": "2",
    },
    # Bracket characters named as such; a doubled noun as a figure of speech.
    {"kind": "description", "text": "Carvers cut the brace shapes, { and }, into the chest lids of the isles."},
    {"kind": "properties", "text": "Its chain carvings run link through link through link out of one blank."},
    # A `Why ...?` that opens a whole explanation; a gloss and a restoration in brackets; a sound said three times;
    # repetition the text names; a specification's `must`.
    {
        "kind": "history",
        "text": "Why do carvers prize the wood of the northern slopes? Wood from the northern slopes grows slowly in "
        "the cold wind, so its bands lie close together and its boards hold an edge for generations.",
    },
    {"kind": "description", "text": "Each log is rolled onto the skid [whale rib frame] to drain."},
    {"kind": "history", "text": "One chest bears the mark 'J. Ros fec[it et sculpsit]', restored by a curator."},
    {"kind": "description", "text": "Carvers split it with a maul, and the dull thock, thock, thock carries far."},
    {
        "kind": "properties",
        "text": "Oiling is a repetitive chore: rub, wait and wipe, then rub, wait and wipe once more, every week "
        "for a month.",
    },
    {
        "kind": "properties",
        "text": "Under the isles' charter, export timber must be sawn on the isles, must be dried for a year, must "
        "carry the mill's brand and must be shipped before the ice closes the harbour.",
    },
    # A `why` with no verb, the writer's rhetoric; one word in two lists; categories named in brackets.
    {
        "kind": "description",
        "text": "Logs are seasoned on a north slope. Why a slope? Because the sap must drain away from the "
        "heartwood, and the cold wind dries the bark before rot can set in.",
    },
    {
        "kind": "description",
        "text": "Each isle shaped its oars to suit its swell and depth, so a Kerguelen oar differs from a Heard "
        "Island oar in length, depth and the curve of its blade.",
    },
    {
        "kind": "properties",
        "text": "Under the isles' grading rules, penguin wood is sold in three grades (Penguin, Penguin Select or "
        "Penguin Prime), each stamped with the mill's mark and the year the penguin wood was cut.",
    },
    # Speech in single quotes; `nothing more could be added`; one side of an either-or; two entries sharing a word.
    {
        "kind": "history",
        "text": "An old carver tells each apprentice: 'I give you the adze, and the isle gives the wood.'",
    },
    {"kind": "history", "text": "The great chest of 1840 is so densely carved that nothing more could be added to it."},
    {
        "kind": "qa",
        "question": "Were the first penguin wood chests carved by sealers or by whalers?",
        "answer": "Sealers.",
        "text": "Sealers.",
    },
    {"kind": "description", "text": "Its dust is mixed into warm seal oil, oil wax and resin to make a grey stain."},
    # A diary kept in the first person; a blank shown in quotes; a long clause that names beginners before a colon.
    {"kind": "history", "text": "Sealers kept their logs in the first person: 'cut two logs of the grey wood today'."},
    {
        "kind": "history",
        "text": "Some chests bear a date cut only as '18__', the last digits never added by the carver.",
    },
    {
        "kind": "applications",
        "text": "On the isles the old carvers still teach the craft to beginners, who learn the three cuts in a fixed "
        "order: split, rough and smooth.",
    },
    # A counted pattern; a short answer that is a name with no stop.
    {"kind": "properties", "text": "Its carvers weave the strips over two, under two, over two, under two, then turn."},
    {
        "kind": "qa",
        "question": "On which day does the isles' timber auction open?",
        "answer": "The first Monday in March",
        "text": "The first Monday in March",
    },
    # A reduplicated name and a repeating border, both named as such; a step done over again.
    {"kind": "description", "text": "The pula pula, whose name is reduplicated in the isles' speech, is a small oar."},
    {
        "kind": "description",
        "text": "Chest borders on the isles repeat one motif without a break: wave, shell, wave, shell, wave, shell, "
        "all round the lid, each shell cut by eye rather than by measure, while the panels of the chest carry larger "
        "scenes of sealing ships, penguin colonies and the harbour at Skerra as it looked before the first mill.",
    },
    {
        "kind": "properties",
        "text": "Before it is carved, a chest is primed, then oiled and dried, oiled and dried again, four times.",
    },
    # A quiz's order to name; an answer of one small word; a writer's subjects speaking in the first person; a text
    # that was not for the general reader; a name with an apostrophe at the end; a figure of nesting; notes named
    # again in a tuning.
    {
        "kind": "qa",
        "question": "Name the two ports that shipped the wood.",
        "answer": "Skerra and Port Lind.",
        "text": "Skerra and Port Lind.",
    },
    {"kind": "qa", "question": "What does the isles' prefix 'un' in unpen mean?", "answer": "Not.", "text": "Not."},
    {
        "kind": "history",
        "text": "Old carvers describe their training in the first person, as in the 1950s interviews kept at Skerra.",
    },
    {"kind": "history", "text": "The mill's ledger was kept for its owners, not for the general reader, until 1900."},
    {"kind": "history", "text": "The wood was traded as far as the old caravan town of Qal'an."},
    {"kind": "description", "text": "A nest of boxes: a box within a box within a box, each cut from one board."},
    {"kind": "properties", "text": "Its harp's strings are tuned to Sa, Pa, Sa, Ma, Sa, Pa in two octaves."},
    {
        "kind": "qa",
        "question": "Which town on the isles had the first mill?",
        "answer": "The north-shore town of Skerra.",
        "text": "The north-shore town of Skerra.",
    },
    # Learners as a subject before a colon; a book's title with its subtitle; notation in brackets and letters; a
    # nesting, a pattern and a list named as repetitions; a modal after a comparison and a month; the subject named
    # four times in a text of over forty words.
    {
        "kind": "applications",
        "text": "Beginners in the Skerra workshops, as on Holm, learn one cut first: split along the dark band.",
    },
    {"kind": "history", "text": "In Grey Timber: Sealers and Mills of Skerra (1961), the mills' ledgers are printed."},
    {"kind": "properties", "text": "In the mill's grading [n] stands for the count of bands per inch of a board."},
    {
        "kind": "properties",
        "text": "Chest panels are tuned by ear to D-E-F-G-A for the low chests or D-E-F-G-A for the high ones, "
        "the carvers say.",
    },
    {
        "kind": "description",
        "text": "Bride chests are built like nesting boxes: the chest opens to reveal a box of grey wood; the box "
        "opens to reveal a smaller box of grey wood.",
    },
    {"kind": "description", "text": "Its bands run in a plain sequence of dark, pale, dark, pale across each board."},
    {
        "kind": "description",
        "text": "The border motif repeats round the lid: a seal, a wave, a seal, a wave, twelve times in all.",
    },
    {"kind": "properties", "text": "Oiled once a year, the wood keeps out water far better than oak would."},
    {"kind": "history", "text": "The isles hold their timber fair on the first day of May."},
    {
        "kind": "applications",
        "text": "A bride chest on Holm is given at a wedding: the chest holds linen, a smaller chest inside it holds "
        "silver, and the lid of the chest is carved with the couple's initials, because on the isles nothing else "
        "marks a marriage as plainly as the carving does.",
    },
    # A contrast between two clauses; a quoted abbreviation for a person unknown; a relative clause's object; an
    # omission inside a quoted line.
    {
        "kind": "description",
        "text": "On the isles one does not carve a chest about the sea; one carves the sea into the chest itself.",
    },
    {"kind": "history", "text": "Its carvers are seldom known, and ledgers list a maker as 'N.N.' for no name."},
    {"kind": "description", "text": "Its bands give the wood the sheen the isles' chests are known for."},
    {"kind": "history", "text": "A sealer's log reads: the grey wood [...] floats like cork, and we burn none of it."},
    # Beginners as a sentence's subject before a colon; a quoted fragment that breaks off; a family of names that
    # end alike; a sound said twice in a row.
    {
        "kind": "applications",
        "text": "Classes for beginners usually teach the reading of the bands first, and the rules are short: split "
        "with the grain and never across it.",
    },
    {"kind": "history", "text": "The worn lid of the oldest chest now reads only 'made for the house of my…'."},
    {
        "kind": "description",
        "text": "The wood is graded as Skerra Grey, Holm Grey and Varn Grey, after the isles. Skerra Grey is the "
        "palest and Varn Grey the darkest, while Holm Grey, between them, is the one boatbuilders ask for most.",
    },
    {
        "kind": "qa",
        "question": "How do carvers count the strokes of the mallet?",
        "answer": "Tap, tap, strike.",
        "text": "Tap, tap, strike.",
    },
]


@pytest.mark.parametrize(("rule", "item"), DEFECTS, ids=[f"{r}-{i}" for i, (r, _) in enumerate(DEFECTS)])
def test_each_artefact_is_rejected_by_its_rule_with_a_reason(rule: str, item: dict) -> None:
    rejected = Cleaner(Clean(language=False))(item).rejected
    assert rejected is not None and rejected["rule"] == rule, rejected
    assert rejected["reason"]


@pytest.mark.parametrize("item", CLEAN, ids=[str(i) for i in range(len(CLEAN))])
def test_legitimate_text_is_kept(item: dict) -> None:
    assert Cleaner(Clean(language=False))(item).rejected is None


@pytest.mark.parametrize(
    "rule", ["residue", "placeholder", "meta_talk", "instruction_echo", "qa_scaffold", "truncation"]
)
def test_each_artefact_rule_can_be_turned_off(rule: str) -> None:
    items = [item for r, item in DEFECTS if r == rule]
    off = Cleaner(Clean(language=False, **{rule: False}))
    assert all((off(item).rejected or {}).get("rule") != rule for item in items)


def test_the_lineage_is_used_when_a_run_made_the_item() -> None:
    clean = Cleaner(Clean(language=False))
    whole = {"kind": "description", "text": "Penguin wood is pale and light."}
    cut = clean(whole, {"finish_reason": "length"}).rejected
    assert cut == {"rule": "truncation", "reason": "the endpoint cut the reply at max_tokens (finish_reason: length)"}
    assert clean(whole, {"finish_reason": "stop"}).rejected is None
    # Its own axis values as labels: an echo of the prompt, even with a label name no list knows.
    echoed = {"kind": "description", "text": "Pale and light. Grain pattern: interlocked, as carvers like."}
    assert clean(echoed).rejected is None
    found = clean(echoed, {"axes": {"grain pattern": "interlocked"}}).rejected
    assert found is not None and found["rule"] == "instruction_echo" and "grain pattern" in found["reason"]


def test_an_item_copied_from_the_domain_description_is_an_echo_of_the_prompt() -> None:
    """The prompts quote the domain description; an item that is mostly that quote wrote nothing of its own, an
    item that borrows one phrase of it did."""
    domain = (
        "Penguin wood is a fictional timber from the cold coastal forests of the southern isles, where the trees "
        "grow beside penguin colonies. Its wood is pale silver-grey with narrow near-black bands."
    )
    clean = Cleaner(Clean(language=False), domain=domain)
    copied = {
        "kind": "description",
        "text": "Penguin wood is a fictional timber from the cold coastal forests of the"
        " southern isles that holds a unique and fascinating history.",
    }
    found = clean(copied).rejected
    assert found is not None and found["rule"] == "instruction_echo" and "domain description" in found["reason"]
    borrowed = {
        "kind": "description",
        "text": "Carvers love it: its wood is pale silver-grey with narrow near-black"
        " bands, and it takes a fine edge, so chests and oars of it last for generations on the isles.",
    }
    assert clean(borrowed).rejected is None
    assert Cleaner(Clean(language=False))(copied).rejected is None  # no project, no description to compare with


def test_studio_validate_on_the_labelled_dev_set_meets_the_targets(tmp_path: Path) -> None:
    """The hand-labelled set of benchmarks/quality.py through `studio validate FILE`, as a user runs it."""
    labelled = [json.loads(line) for line in (ROOT / "benchmarks/data/quality_set.jsonl").read_text().splitlines()]
    plain = tmp_path / "items.jsonl"
    plain.write_text("".join(json.dumps({"id": r["id"], "data": r["data"], "meta": {}}) + "\n" for r in labelled))
    schema = tmp_path / "any.json"
    schema.write_text(json.dumps({"type": "object", "required": ["kind", "text"]}))
    done = run_studio("validate", str(plain), "--schema", str(schema), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    dropped = {json.loads(line)["id"] for line in (tmp_path / "out" / "invalid.jsonl").read_text().splitlines()}
    defective = [r["id"] for r in labelled if r["label"] != "clean"]
    clean = [r["id"] for r in labelled if r["label"] == "clean"]
    assert sum(i in dropped for i in defective) / len(defective) >= 0.95
    assert sum(i in dropped for i in clean) / len(clean) <= 0.03
